#!/usr/bin/env bash
# Screens settings on validation only: one `tandem train` per line of a spec file ("label  --flag value ..."),
# seed 2020 unless the line sets one, printing each run's best validation NDCG@20 and Recall@20, its best epoch and
# seconds per epoch. Test metrics are never printed, so nothing here can be chosen by its test score.
# Usage: bash scripts/sweeps/sweep.sh SPEC_FILE [OUT_DIR]     (runs whose OUT_DIR/LABEL.json exists are not re-run)
set -euo pipefail
cd "$(dirname "$0")/../.."
spec=$1
out=${2:-sweeps/$(basename "$spec" .txt)}
bin=${TANDEM_BIN:-.build/release/tandem}
[ -x "$bin" ] || swift build -c release --product tandem
mkdir -p "$out"
echo "| run | flags | valid NDCG@20 | valid Recall@20 | best epoch | s/epoch |"
echo "| --- | --- | --- | --- | --- | --- |"
grep -v '^\s*\(#\|$\)' "$spec" | while read -r label flags; do
  if [ ! -s "$out/$label.json" ]; then
    # shellcheck disable=SC2086
    "$bin" train $flags --results "$out/$label.json" > "$out/$label.log" 2>&1 </dev/null || { echo "| $label | $flags | failed: see $out/$label.log | | | |"; continue; }
  fi
  python3 - "$out/$label.json" "$label" "$flags" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = [x["seconds"] for x in r.get("epochs", [])]
s = f"{sum(e) / len(e):.2f}" if e else "-"
print(f"| {sys.argv[2]} | `{sys.argv[3]}` | {r['valid']['ndcg@20']:.4f} | {r['valid']['recall@20']:.4f} | {r['best_epoch']} | {s} |")
PY
done
