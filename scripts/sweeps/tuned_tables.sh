#!/usr/bin/env bash
# Issue #28's results table for one dataset: every model at the config chosen for it on validation
# (configs/DATASET/MODEL.yaml; `tandem tune` or the sweeps they name), trained with SEEDS seeds on the split of seed
# 2020 (`tandem compare`), test NDCG@20, Recall@20 and tail Recall@20 as mean ± std, and the training time.
# Nothing here chooses a setting: the configs were fixed before these runs.
# Usage: [MODELS=a,b] bash scripts/sweeps/tuned_tables.sh DATASET [SEEDS] [OUT_DIR]
# (models whose OUT_DIR/MODEL holds runs are not re-run; MODELS limits the run to those configs)
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=$1
seeds=${2:-3}
out=${3:-sweeps/tuned/$dataset}
bin=${TANDEM_BIN:-.build/release/tandem}
[ -x "$bin" ] || swift build -c release --product tandem
rows=()
for config in configs/"$dataset"/*.yaml; do
  model=$(sed -n 's/^model: *//p' "$config")
  if [ -n "${MODELS:-}" ] && [[ ",$MODELS," != *",$model,"* ]]; then continue; fi
  dir="$out/$model"
  if ! ls "$dir"/*.json > /dev/null 2>&1; then
    mkdir -p "$dir"
    "$bin" compare --config "$config" --models "$model" --seeds "$seeds" --results-dir "$dir" > "$dir.log" 2>&1 </dev/null \
      || { echo "$model failed: see $dir.log" >&2; continue; }
  fi
  rows+=("$model=$dir")
done
python3 scripts/sweeps/summarize_runs.py "${rows[@]}"
