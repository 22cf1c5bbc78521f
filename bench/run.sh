#!/usr/bin/env bash
# Gateway overhead side by side: one mock OpenAI upstream (nginx, :18080), a plain nginx proxy hop
# (:18081, the floor any gateway is measured against), the gateway under test, optionally peers.
# Usage: bench/run.sh [seconds]
#   TARGET_NAME=switchyard TARGET_URL=http://127.0.0.1:PORT/v1/chat/completions  the gateway, already
#     started with the upstream http://127.0.0.1:18080/v1 as its provider
#   CONCURRENCY="8 64"   PEERS=1 adds LiteLLM and Portkey (see README.md)   RESULTS=dir for the CSV
# Needs: apt-get install nginx wrk
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
DUR=${1:-15}; CONC=${CONCURRENCY:-"8 64"}; PEERS=${PEERS:-0}
RESULTS=${RESULTS:-/tmp/gateway-bench}; mkdir -p "$RESULTS"; OUT=$RESULTS/$(date +%F-%H%M%S).csv
RUN=$(mktemp -d); PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for f in "$RUN"/nginx-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
}
trap cleanup EXIT
BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'
AUTH='authorization: Bearer sk-harness-7f3a9c2e5b1d4f60a8e2'

wait_up() { # url [extra curl args...]: wait until it answers 200 to the test request
  local url=$1; shift
  for _ in $(seq 1 120); do
    curl -sf -m 2 -X POST "$url" -H 'content-type: application/json' -H "$AUTH" "$@" -d "$BODY" >/dev/null && return 0
    sleep 0.5
  done; return 1
}
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f", v}'; }

measure() { # name url [wrk -H args...]
  local name=$1 url=$2; shift 2
  for c in $CONC; do
    wrk -t1 -c"$c" -d3s -s "$HERE/post.lua" "$@" "$url" >/dev/null 2>&1   # warm-up
    local o rps p50 p90 p99 err
    o=$(wrk -t1 -c"$c" -d"${DUR}s" -s "$HERE/post.lua" --latency "$@" "$url" 2>&1)
    rps=$(echo "$o" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$o" | awk '$1=="50%" {print $2}' | to_ms)
    p90=$(echo "$o" | awk '$1=="90%" {print $2}' | to_ms)
    p99=$(echo "$o" | awk '$1=="99%" {print $2}' | to_ms)
    err=$(echo "$o" | awk '/Non-2xx/ {n+=$NF} /Socket errors/ {gsub(/[^0-9 ]/," "); n+=$1+$2+$3+$4} END {print n+0}')
    echo "$name,$c,$rps,$p50,$p90,$p99,$err" | tee -a "$RUN/raw.csv"
  done
}

for role in upstream proxy; do
  sed "s|^pid .*|pid $RUN/nginx-$role.pid;|; s|^error_log .*|error_log $RUN/nginx-$role.log warn;|" \
    "$HERE/nginx-$role.conf" > "$RUN/nginx-$role.conf"
  nginx -p "$RUN/" -c "$RUN/nginx-$role.conf" || exit 1
done
wait_up http://127.0.0.1:18080/v1/chat/completions || { echo "mock upstream does not answer"; exit 1; }
measure direct http://127.0.0.1:18080/v1/chat/completions
measure nginx-proxy http://127.0.0.1:18081/v1/chat/completions

if [ -n "${TARGET_URL:-}" ]; then
  if wait_up "$TARGET_URL"; then measure "${TARGET_NAME:-gateway}" "$TARGET_URL"
  else echo "# ${TARGET_NAME:-gateway} at $TARGET_URL does not answer 200 to the test request"; fi
fi

if [ "$PEERS" = 1 ] && [ -x /tmp/peers-venv/bin/litellm ]; then
  for cfg in litellm-1 litellm-router3; do
    port=$([ $cfg = litellm-1 ] && echo 18082 || echo 18083)
    LITELLM_TELEMETRY=False LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR /tmp/peers-venv/bin/litellm \
      --config "$HERE/$cfg.yaml" --host 127.0.0.1 --port $port --num_workers 1 >"$RUN/$cfg.log" 2>&1 &
    PIDS+=($!)
    if wait_up http://127.0.0.1:$port/v1/chat/completions; then measure "$cfg" http://127.0.0.1:$port/v1/chat/completions
    else echo "# $cfg did not start: $(tail -n 3 "$RUN/$cfg.log")"; fi
    kill "${PIDS[-1]}" 2>/dev/null
  done
fi
if [ "$PEERS" = 1 ] && [ -d /tmp/peers-node/node_modules/@portkey-ai/gateway ]; then
  (cd /tmp/peers-node && exec node node_modules/@portkey-ai/gateway/build/start-server.js --port=18787) >"$RUN/portkey.log" 2>&1 &
  PIDS+=($!)
  PK=(-H 'x-portkey-provider: openai' -H 'x-portkey-custom-host: http://127.0.0.1:18080/v1')
  if wait_up http://127.0.0.1:18787/v1/chat/completions "${PK[@]}"; then measure portkey http://127.0.0.1:18787/v1/chat/completions "${PK[@]}"
  else echo "# portkey did not start: $(tail -n 3 "$RUN/portkey.log")"; fi
fi

echo "target,concurrency,rps,p50_ms,p90_ms,p99_ms,errors,added_p50_ms,added_p99_ms,rps_vs_nginx" > "$OUT"
awk -F, 'NR==FNR { if ($1=="direct") {d50[$2]=$4; d99[$2]=$6}; if ($1=="nginx-proxy") {n[$2]=$3}; next }
         { printf "%s,%.3f,%.3f,%.3f\n", $0, $4-d50[$2], $6-d99[$2], $3/n[$2] }' "$RUN/raw.csv" "$RUN/raw.csv" >> "$OUT"
echo; column -t -s, "$OUT"; echo "written $OUT"
