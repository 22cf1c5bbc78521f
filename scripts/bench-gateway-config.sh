# Sourced by the gateway benches: writes $TMP/gateway.toml (two deployments on the nginx mock
# upstream at 127.0.0.1:18080 — tier `standard`: OpenAI-shaped, model gpt-4o-mini; tier `claude`:
# Anthropic-shaped, model claude-3-5-haiku — plus EXTRA_CONFIG's tables) and exports the
# harness's client key and the upstream key the config names. Expects TMP.

cat > "$TMP/gateway.toml" <<TOML
[[tier]]
name = "standard"
strategy = "weighted-round-robin"

[[route]]
model = "gpt-4o-mini"
tier = "standard"

[[deployment]]
id = "nginx-mock"
provider = "mock"
model = "gpt-4o-mini"
tier = "standard"
base_url = "http://127.0.0.1:18080/v1"
api_key_env = "SWITCHYARD_BENCH_UPSTREAM_KEY"

# The same mock's Anthropic-shaped endpoint (/v1/messages), for scripts/bench-gateway-shapes.sh.
[[tier]]
name = "claude"
strategy = "weighted-round-robin"

[[route]]
model = "claude-3-5-haiku"
tier = "claude"

[[deployment]]
id = "nginx-mock-anthropic"
provider = "mock"
model = "claude-3-5-haiku"
tier = "claude"
api = "anthropic"
base_url = "http://127.0.0.1:18080"
api_key_env = "SWITCHYARD_BENCH_UPSTREAM_KEY"
TOML
# Extra tables, e.g. a [cluster] to measure the fleet exchange's cost.
[ -n "${EXTRA_CONFIG:-}" ] && printf '%s\n' "$EXTRA_CONFIG" >> "$TMP/gateway.toml"

# The harness sends this client key; the gateway checks it like any client key.
KEY=sk-harness-7f3a9c2e5b1d4f60a8e2
export SWITCHYARD_BENCH_GATEWAY_KEYS=$KEY
export SWITCHYARD_BENCH_UPSTREAM_KEY=sk-bench-upstream-not-a-real-key
