#!/usr/bin/env bash
# API shapes side by side in one run: the gateway in front of the nginx mock upstream
# (bench/nginx-upstream.conf: a fixed OpenAI chat answer and a fixed Anthropic message), driven by
# wrk at c=8 and c=64 on four paths — OpenAI client → OpenAI deployment (the reference),
# Anthropic client → Anthropic deployment (same shape: must cost no more), and the two translated
# paths (OpenAI client → Anthropic deployment, Anthropic client → OpenAI deployment).
# Usage: scripts/bench-gateway-shapes.sh [seconds]   (default 10; BUILD=0 skips the build;
#        ROUNDS=N repeats the four paths N times, alternating)
# Needs: apt-get install -y nginx wrk
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-10}
PORT=${PORT:-18090}
command -v nginx >/dev/null && command -v wrk >/dev/null || { echo "needs: apt-get install -y nginx wrk"; exit 1; }
TMP=$(mktemp -d)
GW_PID=
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  [ -f "$TMP/nginx-upstream.pid" ] && kill "$(cat "$TMP/nginx-upstream.pid")" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
source "$ROOT/scripts/bench-upstream-start.sh"
source "$ROOT/scripts/bench-gateway-start.sh"

run() { # name path lua model
  local name=$1 path=$2 lua=$3 model=$4
  sed "s|\"model\":\"[^\"]*\"|\"model\":\"$model\"|; s|MODEL|$model|" "$ROOT/bench/$lua" > "$TMP/$name.lua"
  for c in 8 64; do
    wrk -t1 -c"$c" -d2s -s "$TMP/$name.lua" "http://127.0.0.1:$PORT$path" >/dev/null 2>&1
    local o
    o=$(wrk -t1 -c"$c" -d"${DUR}s" -s "$TMP/$name.lua" --latency "http://127.0.0.1:$PORT$path" 2>&1)
    printf '%-22s c=%-3s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$c" \
      "$(echo "$o" | awk '/Requests\/sec/ {print $2}')" \
      "$(echo "$o" | awk '$1=="50%" {print $2}')" "$(echo "$o" | awk '$1=="99%" {print $2}')" \
      "$(echo "$o" | awk '/Non-2xx/ {print $NF}' | grep . || echo 0)"
  done
}
# ROUNDS alternates the paths so that load from elsewhere on the machine falls on all of them.
for round in $(seq 1 "${ROUNDS:-1}"); do
  [ "${ROUNDS:-1}" = 1 ] || echo "round $round"
  run openai-to-openai /v1/chat/completions post.lua gpt-4o-mini
  run anthropic-to-anthropic /v1/messages post-anthropic.lua claude-3-5-haiku
  run openai-to-anthropic /v1/chat/completions post.lua claude-3-5-haiku
  run anthropic-to-openai /v1/messages post-anthropic.lua gpt-4o-mini
done
echo "gateway log (tail):"; tail -n 3 "$TMP/gateway.log"
