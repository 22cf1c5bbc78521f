#!/usr/bin/env bash
# Gateway overhead bench: switchyard in front of the shared nginx mock upstream (127.0.0.1:18080),
# side by side with a plain nginx proxy hop, measured by ../shared/bench/run.sh (wrk, c=8 and c=64).
# Usage: scripts/bench-gateway.sh [seconds]      (default 15)
#   PORT=18090        where the gateway listens
#   BUILD=0           skip `cargo build --release`
#   GATEWAY_ARGS=...  extra `switchyard serve` flags, e.g. "--workers 1"
#   BENCH_DIR=...     folder holding run.sh (default: ../shared/bench next to the repository)
# Needs: apt-get install -y nginx wrk
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-15}
PORT=${PORT:-18090}
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
[ -x "$BENCH_DIR/run.sh" ] || [ -f "$BENCH_DIR/run.sh" ] || { echo "no run.sh in $BENCH_DIR"; exit 1; }
command -v nginx >/dev/null && command -v wrk >/dev/null || { echo "needs: apt-get install -y nginx wrk"; exit 1; }

if [ "${BUILD:-1}" = 1 ]; then
  (cd "$ROOT" && cargo build --release --bin switchyard)
fi
BIN=$ROOT/target/release/switchyard

TMP=$(mktemp -d)
GW_PID=
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

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
TOML

# The harness sends this client key; the gateway checks it like any client key.
export SWITCHYARD_BENCH_GATEWAY_KEYS=sk-harness-7f3a9c2e5b1d4f60a8e2
export SWITCHYARD_BENCH_UPSTREAM_KEY=sk-bench-upstream-not-a-real-key
RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --config "$TMP/gateway.toml" --listen "127.0.0.1:$PORT" \
  --gateway-keys-env SWITCHYARD_BENCH_GATEWAY_KEYS ${GATEWAY_ARGS:-} >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 50); do
  curl -sf -m 1 "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$GW_PID" 2>/dev/null || { echo "gateway exited:"; cat "$TMP/gateway.log"; exit 1; }
  sleep 0.1
done

TARGET_NAME=switchyard TARGET_URL="http://127.0.0.1:$PORT/v1/chat/completions" \
  bash "$BENCH_DIR/run.sh" "$DUR"
echo "gateway log (tail):"; tail -n 5 "$TMP/gateway.log"
