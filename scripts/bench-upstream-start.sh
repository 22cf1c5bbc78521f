# Sourced by the gateway benches that need only the mock upstream: starts nginx answering a fixed
# chat.completion on 127.0.0.1:18080 (bench/nginx-upstream.conf), its pid and log in $TMP.
# Expects ROOT and TMP; the caller's cleanup stops it with `kill "$(cat "$TMP/nginx-upstream.pid")"`.
sed "s|^pid .*|pid $TMP/nginx-upstream.pid;|; s|^error_log .*|error_log $TMP/nginx-upstream.log warn;|" \
  "$ROOT/bench/nginx-upstream.conf" > "$TMP/nginx-upstream.conf"
nginx -p "$TMP/" -c "$TMP/nginx-upstream.conf"
