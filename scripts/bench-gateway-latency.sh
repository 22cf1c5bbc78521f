#!/usr/bin/env bash
# Added latency of the gateway at a fixed request rate: the shared nginx mock upstream
# (127.0.0.1:18080, zero delay) measured directly, through a plain nginx proxy hop (the shared
# bench's floor, 127.0.0.1:18081) and through `switchyard serve`, at concurrency 1, 16 and 64,
# with oha.
#
# Why a fixed rate: a closed loop of c connections at full speed measures queueing, not the hop
# (latency = c ÷ throughput, so at c=64 on two shared cores even nginx's own proxy hop "adds"
# about 1 ms). Here c=16 and c=64 are open loops offered RATE requests/s over c connections,
# with oha's coordinated-omission correction (latency counted from when a request was due, not
# from when a busy connection got round to sending it). c=1 is a closed loop: one request at a
# time, as fast as it goes. Each point gets a 3 s warm-up first.
#
# Usage: scripts/bench-gateway-latency.sh [seconds]   (default 10)
#   RATE=10000           requests/s offered at c > 1
#   CONCURRENCY="1 16 64"
#   PORT=18090  BUILD=0 (skip cargo build)  GATEWAY_ARGS="--workers 1"
#   BENCH_DIR=...        folder holding nginx-upstream.conf and nginx-proxy.conf
#                        (default bench/)
# Needs: nginx (apt-get install -y nginx), oha (cargo install oha), python3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-10}
RATE=${RATE:-10000}
CONC=${CONCURRENCY:-"1 16 64"}
PORT=${PORT:-18090}
BENCH_DIR=${BENCH_DIR:-$ROOT/bench}
OHA=${OHA:-$(command -v oha || echo /tmp/oha-install/bin/oha)}
[ -f "$BENCH_DIR/nginx-upstream.conf" ] && [ -f "$BENCH_DIR/nginx-proxy.conf" ] ||
  { echo "no nginx-upstream.conf and nginx-proxy.conf in $BENCH_DIR"; exit 1; }
command -v nginx >/dev/null || { echo "needs: apt-get install -y nginx"; exit 1; }
[ -x "$OHA" ] || { echo "needs oha: cargo install oha (or OHA=/path/to/oha)"; exit 1; }

TMP=$(mktemp -d)
GW_PID=
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
  for role in upstream proxy; do
    [ -f "$TMP/nginx-$role.pid" ] && kill "$(cat "$TMP/nginx-$role.pid")" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

for role in upstream proxy; do
  sed "s|^pid .*|pid $TMP/nginx-$role.pid;|; s|^error_log .*|error_log $TMP/nginx-$role.log warn;|" \
    "$BENCH_DIR/nginx-$role.conf" > "$TMP/nginx-$role.conf"
  nginx -p "$TMP/" -c "$TMP/nginx-$role.conf"
done

source "$ROOT/scripts/bench-gateway-start.sh"

BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'
run() { # url c seconds -> oha JSON on stdout
  local url=$1 c=$2 secs=$3 rate=()
  [ "$c" -gt 1 ] && rate=(-q "$RATE" --latency-correction)
  "$OHA" --no-tui --output-format json -c "$c" "${rate[@]}" -z "${secs}s" -m POST \
    -H "authorization: Bearer $KEY" -T application/json -d "$BODY" "$url"
}
summary() { # name c: oha JSON on stdin -> one CSV row
  python3 -c '
import json, sys
name, c = sys.argv[1], sys.argv[2]
r = json.load(sys.stdin)
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
# The request cut off by the end of the run is not an error of the target.
errors = {e: n for e, n in r.get("errorDistribution", {}).items() if "deadline" not in e}
bad = sum(n for code, n in codes.items() if code != "200") + sum(errors.values())
print("%s,%s,%.0f,%.3f,%.3f,%d" % (name, c, s["requestsPerSec"], p["p50"] * 1e3, p["p99"] * 1e3, bad))
' "$1" "$2"
}

echo "target,c,rps,p50_ms,p99_ms,errors"
declare -A P50 P99
for c in $CONC; do
  for target in direct nginx-proxy switchyard; do
    case $target in
      direct) url=http://127.0.0.1:18080/v1/chat/completions ;;
      nginx-proxy) url=http://127.0.0.1:18081/v1/chat/completions ;;
      switchyard) url=http://127.0.0.1:$PORT/v1/chat/completions ;;
    esac
    run "$url" "$c" 3 >/dev/null
    row=$(run "$url" "$c" "$DUR" | summary "$target" "$c")
    echo "$row"
    P50[$target,$c]=$(echo "$row" | cut -d, -f4)
    P99[$target,$c]=$(echo "$row" | cut -d, -f5)
  done
done
echo
echo "target,c,added_p50_ms,added_p99_ms"
for c in $CONC; do
  for target in nginx-proxy switchyard; do
    awk -v t="$target" -v c="$c" -v a="${P50[$target,$c]}" -v b="${P50[direct,$c]}" \
        -v x="${P99[$target,$c]}" -v y="${P99[direct,$c]}" \
        'BEGIN { printf "%s,%s,%.3f,%.3f\n", t, c, a - b, x - y }'
  done
done
echo "offered rate at c > 1: $RATE requests/s; gateway log (tail):"
tail -n 3 "$TMP/gateway.log"
