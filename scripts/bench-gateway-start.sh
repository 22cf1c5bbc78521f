# Sourced by the gateway benches: builds the release binary (unless BUILD=0) and starts
# `switchyard serve` on 127.0.0.1:$PORT with two deployments on the nginx mock upstream at
# 127.0.0.1:18080 (tier `standard`: OpenAI-shaped, model gpt-4o-mini; tier `claude`:
# Anthropic-shaped, model claude-3-5-haiku), and the harness's client key. Expects ROOT, PORT and TMP (a scratch folder);
# sets GW_PID and KEY. Extra `serve` flags come from GATEWAY_ARGS, extra config tables from
# EXTRA_CONFIG.

if [ "${BUILD:-1}" = 1 ]; then
  (cd "$ROOT" && cargo build --release --bin switchyard)
fi

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
RUST_LOG=${RUST_LOG:-warn} "${CARGO_TARGET_DIR:-$ROOT/target}/release/switchyard" serve --config "$TMP/gateway.toml" \
  --listen "127.0.0.1:$PORT" --gateway-keys-env SWITCHYARD_BENCH_GATEWAY_KEYS ${GATEWAY_ARGS:-} \
  >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 50); do
  curl -sf -m 1 "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$GW_PID" 2>/dev/null || { echo "gateway exited:"; cat "$TMP/gateway.log"; exit 1; }
  sleep 0.1
done
