#!/usr/bin/env bash
# Gateway overhead bench: switchyard in front of the shared nginx mock upstream (127.0.0.1:18080),
# side by side with a plain nginx proxy hop, measured by bench/run.sh (wrk, c=8 and c=64).
# Usage: scripts/bench-gateway.sh [seconds]      (default 15)
#   PORT=18090        where the gateway listens
#   BUILD=0           skip `cargo build --release`
#   GATEWAY_ARGS=...  extra `switchyard serve` flags, e.g. "--workers 1"
#   BENCH_DIR=...     folder holding run.sh (default: bench/ in the repository)
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
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$ROOT/scripts/bench-gateway-start.sh"

TARGET_NAME=switchyard TARGET_URL="http://127.0.0.1:$PORT/v1/chat/completions" \
  bash "$BENCH_DIR/run.sh" "$DUR"
echo "gateway log (tail):"; tail -n 5 "$TMP/gateway.log"
