#!/usr/bin/env bash
# report.html in a real browser: headless Chromium renders the demo report
# (compare_html_render) from a file, offline; the rendered DOM must hold every
# plot and no script element, and a screenshot must show something.
# Usage: compare_html_chromium_test.sh path/to/compare_html_render
set -euo pipefail

render=$1
chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  echo "skipped: chromium not installed (scripts/bootstrap.sh installs it)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$render" "$work/report.html"

browse() {
  # No network, no first-run work, a throwaway profile: the page alone.
  timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$work/profile" \
    "$@" "file://$work/report.html"
}

browse --dump-dom >"$work/dom.html" 2>"$work/chromium.log" || {
  cat "$work/chromium.log" >&2
  exit 1
}

fail=0
expect() {
  if ! grep -q -- "$1" "$work/dom.html"; then
    echo "FAIL: the rendered DOM has no $1" >&2
    fail=1
  fi
}
for id in latency-percentiles heap-over-time throughput allocation-sites; do
  expect "<svg id=\"$id\""
done
expect '<polyline class="base" points="'
expect '<polyline class="candidate" points="'
expect '&lt;script&gt;alert(1)&lt;/script&gt;'
# The hostile names stayed text: the browser built no script element from them.
if grep -q '<script' "$work/dom.html"; then
  echo "FAIL: the rendered DOM has a <script> element" >&2
  fail=1
fi

browse --screenshot="$work/report.png" --window-size=1200,2000 >/dev/null 2>>"$work/chromium.log" || {
  cat "$work/chromium.log" >&2
  exit 1
}
size=$(stat -c %s "$work/report.png" 2>/dev/null || echo 0)
if [ "$size" -lt 20000 ]; then
  echo "FAIL: the screenshot is $size bytes (a blank page?)" >&2
  fail=1
fi
if [ -n "${PERFLAB_KEEP_SCREENSHOT:-}" ]; then cp "$work/report.png" "$PERFLAB_KEEP_SCREENSHOT"; fi

if [ "$fail" -ne 0 ]; then exit 1; fi
echo "ok: report.html renders in $("$chromium" --version 2>/dev/null || echo chromium) (screenshot $size bytes)"
