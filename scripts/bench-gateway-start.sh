# Sourced by the gateway benches: builds the release binary (unless BUILD=0) and starts
# `switchyard serve` on 127.0.0.1:$PORT with two deployments on the nginx mock upstream at
# 127.0.0.1:18080 (tier `standard`: OpenAI-shaped, model gpt-4o-mini; tier `claude`:
# Anthropic-shaped, model claude-3-5-haiku), and the harness's client key. Expects ROOT, PORT and TMP (a scratch folder);
# sets GW_PID and KEY. Extra `serve` flags come from GATEWAY_ARGS, extra config tables from
# EXTRA_CONFIG.

if [ "${BUILD:-1}" = 1 ]; then
  (cd "$ROOT" && cargo build --release --bin switchyard)
fi

source "$ROOT/scripts/bench-gateway-config.sh"
RUST_LOG=${RUST_LOG:-warn} "${CARGO_TARGET_DIR:-$ROOT/target}/release/switchyard" serve --config "$TMP/gateway.toml" \
  --listen "127.0.0.1:$PORT" --gateway-keys-env SWITCHYARD_BENCH_GATEWAY_KEYS ${GATEWAY_ARGS:-} \
  >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 50); do
  curl -sf -m 1 "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$GW_PID" 2>/dev/null || { echo "gateway exited:"; cat "$TMP/gateway.log"; exit 1; }
  sleep 0.1
done
