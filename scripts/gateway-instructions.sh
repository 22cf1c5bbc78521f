#!/usr/bin/env bash
# User-space instructions per proxied request, for the gateway and for the floor of its HTTP
# stack (gateway/examples/floor_proxy.rs: the same hyper server and pooled client, no gateway
# work), each in front of the bench's nginx mock upstream. Unlike requests per second these
# counts hardly move when other work shares the two cores, so a change to the request path can
# be judged on a busy machine. Kernel time is not counted (see docs/gateway.md for strace's
# syscalls per request).
#
# Each target runs under valgrind's callgrind; wrk drives it at c=8 for 3 s (warm-up), the
# counters are zeroed, wrk runs SECONDS more, the counters are dumped and divided by the
# requests wrk saw answered.
# Usage: scripts/gateway-instructions.sh [seconds]     (default 10)
#   BUILD=0  skip `cargo build --release`
# Needs: apt-get install -y nginx wrk valgrind
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_MEASURED=${1:-10}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
for tool in nginx wrk valgrind callgrind_control; do
  command -v "$tool" >/dev/null || { echo "needs: apt-get install -y nginx wrk valgrind"; exit 1; }
done
if [ "${BUILD:-1}" = 1 ]; then
  (cd "$ROOT" && cargo build --release --quiet --bin switchyard &&
    cargo build --release --quiet -p switchyard-gateway --example floor_proxy)
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$TMP/nginx-upstream.pid" ] && kill "$(cat "$TMP/nginx-upstream.pid")" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$ROOT/scripts/bench-upstream-start.sh"

source "$ROOT/scripts/bench-gateway-config.sh"

# measure NAME PORT COMMAND...: instructions per request of COMMAND serving on PORT.
measure() {
  local name=$1 port=$2; shift 2
  local out=$TMP/callgrind.$name url=http://127.0.0.1:$port/v1/chat/completions
  RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    curl -sf -m 5 -X POST "$url" -H "authorization: Bearer $SWITCHYARD_BENCH_GATEWAY_KEYS" \
      -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[]}' >/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "$name exited:"; cat "$TMP/$name.log"; exit 1; }
    sleep 0.5
  done
  wrk -t1 -c8 -d3s -s "$ROOT/bench/post.lua" "$url" >/dev/null 2>&1
  callgrind_control -z "$pid" >/dev/null 2>&1
  local n
  n=$(wrk -t1 -c8 -d"${SECONDS_MEASURED}s" -s "$ROOT/bench/post.lua" "$url" 2>&1 | awk '/requests in/ {print $1}')
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local total
  total=$(callgrind_annotate "$out".1 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  printf '%-10s %8d requests %10d instructions per request\n' "$name" "$n" $((total / n))
}

measure floor 18095 "$TARGET/release/examples/floor_proxy" 127.0.0.1:18095 http://127.0.0.1:18080
measure gateway 18090 "$TARGET/release/switchyard" serve --config "$TMP/gateway.toml" \
  --listen 127.0.0.1:18090 --gateway-keys-env SWITCHYARD_BENCH_GATEWAY_KEYS
