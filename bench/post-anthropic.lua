wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "sk-harness-7f3a9c2e5b1d4f60a8e2"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = '{"model":"MODEL","max_tokens":16,"messages":[{"role":"user","content":"hello"}]}'
