#!/usr/bin/env bash
# Takes a screenshot of a `switchyard compare` report as a browser shows it (headless Chromium,
# Debian's `chromium` package, installed if missing), to check by eye that the plots are visible
# and nothing overlaps.
#
# Usage: scripts/screenshot-report.sh [REPORT_DIR | INDEX_HTML] [OUT.png]
#   defaults: reports/default  →  docs/report-screenshot.png
# Environment: WINDOW=WIDTH,HEIGHT (default 1400,4000; the page below HEIGHT is cut off).
#
# Example: cargo run --release -- compare scenarios/default.toml && scripts/screenshot-report.sh
set -euo pipefail

cd "$(dirname "$0")/.."
target=${1:-reports/default}
if [ -d "$target" ]; then
  target="$target/index.html"
fi
out=${2:-docs/report-screenshot.png}
window=${WINDOW:-1400,4000}

if [ ! -f "$target" ]; then
  echo "no report at $target; run: cargo run --release -- compare scenarios/default.toml" >&2
  exit 1
fi

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is not installed; run: sudo apt-get install -y chromium" >&2
    exit 1
  fi
  echo "installing chromium (Debian package)…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  browser=$(command -v chromium)
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
out_abs=$(realpath -m "$out")
page="file://$(realpath "$target")"

# No network, no first-run or background fetches: the report must stand on its own.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --window-size="$window" \
  --screenshot="$out_abs" "$page" 2>"$profile/chromium.log" || {
  cat "$profile/chromium.log" >&2
  exit 1
}
if [ ! -s "$out_abs" ]; then
  cat "$profile/chromium.log" >&2
  echo "chromium wrote no screenshot" >&2
  exit 1
fi
echo "wrote $out ($window) of $target"
