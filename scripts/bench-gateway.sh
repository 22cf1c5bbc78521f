#!/usr/bin/env bash
# Gateway overhead bench: switchyard in front of the shared nginx mock upstream (127.0.0.1:18080),
# side by side with a plain nginx proxy hop, measured by bench/run.sh (wrk, c=8 and c=64).
# Usage: scripts/bench-gateway.sh [seconds]      (default 15)
#   PORT=18090        where the gateway listens
#   BUILD=0           skip `cargo build --release`
#   GATEWAY_ARGS=...  extra `switchyard serve` flags, e.g. "--workers 1"
#   BENCH_DIR=...     folder holding run.sh (default: bench/ in the repository)
#   FLOOR=1           then the same harness on gateway/examples/floor_proxy.rs (the gateway's
#                     HTTP stack with no gateway work: what the gateway could reach at best)
# Needs: apt-get install -y nginx wrk
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-15}
PORT=${PORT:-18090}
BENCH_DIR=${BENCH_DIR:-$ROOT/bench}
[ -x "$BENCH_DIR/run.sh" ] || [ -f "$BENCH_DIR/run.sh" ] || { echo "no run.sh in $BENCH_DIR"; exit 1; }
command -v nginx >/dev/null && command -v wrk >/dev/null || { echo "needs: apt-get install -y nginx wrk"; exit 1; }

TMP=$(mktemp -d)
GW_PID=
FLOOR_PID=
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  [ -n "$FLOOR_PID" ] && kill "$FLOOR_PID" 2>/dev/null && wait "$FLOOR_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$ROOT/scripts/bench-gateway-start.sh"

TARGET_NAME=switchyard TARGET_URL="http://127.0.0.1:$PORT/v1/chat/completions" \
  bash "$BENCH_DIR/run.sh" "$DUR"
echo "gateway log (tail):"; tail -n 5 "$TMP/gateway.log"

if [ "${FLOOR:-0}" = 1 ]; then
  if [ "${BUILD:-1}" = 1 ]; then
    (cd "$ROOT" && cargo build --release -p switchyard-gateway --example floor_proxy)
  fi
  { kill "$GW_PID"; wait "$GW_PID"; } 2>/dev/null || true
  GW_PID=
  "${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/floor_proxy" 127.0.0.1:18095 http://127.0.0.1:18080 \
    >"$TMP/floor.log" 2>&1 &
  FLOOR_PID=$!
  TARGET_NAME=floor-proxy TARGET_URL="http://127.0.0.1:18095/v1/chat/completions" \
    bash "$BENCH_DIR/run.sh" "$DUR"
fi
