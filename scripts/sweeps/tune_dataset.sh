#!/usr/bin/env bash
# Issue #28's tuning for one dataset: `tandem tune` over configs/tune/MODEL.yaml for each model (validation only),
# the best written to configs/DATASET/MODEL.yaml for `tandem train --config` and scripts/sweeps/tuned_tables.sh.
# Trials are logged under sweeps/tune/DATASET/ (a rerun continues a stopped search). Every model family gets its space
# file's trials unless TRIALS sets the number of random draws; BUDGET_MINUTES caps each search's wall time (`tandem tune`
# writes into the config's header that the budget stopped it).
# Usage: [THREADS=1] [TRIALS=N] [BUDGET_MINUTES=N] bash scripts/sweeps/tune_dataset.sh DATASET [MODEL ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=$1; shift
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(ease itemknn ials mf)
bin=${TANDEM_BIN:-.build/release/tandem}
[ -x "$bin" ] || swift build -c release --product tandem
mkdir -p "sweeps/tune/$dataset" "configs/$dataset"
for model in "${models[@]}"; do
  out="configs/$dataset/$model.yaml"
  budget=(); [ -n "${BUDGET_MINUTES:-}" ] && budget=(--budget-minutes "$BUDGET_MINUTES")
  [ -n "${TRIALS:-}" ] && budget+=(--trials "$TRIALS")
  "$bin" tune --space "configs/tune/$model.yaml" --set "dataset=$dataset" --set "threads=${THREADS:-1}" "${budget[@]}" \
    --trials-file "sweeps/tune/$dataset/$model.trials.jsonl" --out "$out.tmp" </dev/null
  # The thread count is how this machine ran the search, not a setting of the model.
  { echo "# tandem tune --space configs/tune/$model.yaml --set dataset=$dataset ($(date -u +%F))"; grep -v '^threads:' "$out.tmp"; } > "$out"
  rm -f "$out.tmp"
done
