#!/usr/bin/env bash
# The browser check of the claims report: builds the --quick report on ml-100k, opens it in headless Chromium (Debian's
# `chromium`, installed here if missing), and fails unless the page loads without console errors and every plot the
# writer produced is in the rendered page. Also saves a screenshot beside the page.
# Usage: bash scripts/checks/check_report.sh [OUT_DIR]     (default /tmp/tandem-claims-quick)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${TANDEM_BIN:-$PWD/.build/release/tandem}
out=${1:-/tmp/tandem-claims-quick}
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
mkdir -p "$out"
"$bin" report claims --quick --out "$out" > "$out/report.log"
page="$out/index.html"
written=$(grep -o '<svg ' "$page" | wc -l)
# Root cannot use Chromium's sandbox; --enable-logging=stderr prints the page's console messages as CONSOLE lines.
flags=(--headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0)
chromium "${flags[@]}" --dump-dom "file://$page" > "$out/dom.html" 2> "$out/console.log"
chromium "${flags[@]}" --window-size=1200,4000 --screenshot="$out/screenshot.png" "file://$page" >/dev/null 2>&1
rendered=$(grep -o '<svg ' "$out/dom.html" | wc -l)
sections=$(grep -o '<section id="c[0-9]">' "$out/dom.html" | wc -l)
if grep -E "CONSOLE|Uncaught|Failed to load" "$out/console.log"; then
  echo "check_report: the page logged errors in Chromium (above)" >&2; exit 1
fi
if [ "$written" -lt 7 ] || [ "$rendered" -ne "$written" ] || [ "$sections" -ne 6 ]; then
  echo "check_report: $written plots written, $rendered rendered, $sections of 6 claim sections" >&2; exit 1
fi
[ -s "$out/screenshot.png" ] || { echo "check_report: no screenshot" >&2; exit 1; }
echo "check_report: $rendered plots and 6 claim sections rendered by $(chromium --version 2>/dev/null | head -1); screenshot $out/screenshot.png"
