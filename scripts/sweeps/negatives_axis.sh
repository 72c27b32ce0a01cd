#!/usr/bin/env bash
# The "more negatives" axis of the contrastive view, one table: MF with the in-batch softmax at batch 256 / 1024 / 4096,
# mixed (in-batch + 1,024 uniform items per batch), a MoCo queue of 4,096 past positives, and the exact softmax over
# every item; 3 training seeds on one split, 64-d and Adam lr 0.01 at every batch size, every other setting at MF's
# default. Prints test NDCG@20, Recall@20 and tail Recall@20 (mean ± std), and seconds per epoch.
# Usage: bash scripts/sweeps/negatives_axis.sh [dataset] [extra tandem flags...]   e.g. ml-1m --epochs 20
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:-ml-100k}; shift || true
bin=${TANDEM_BIN:-.build/release/tandem}
[ -x "$bin" ] || swift build -c release --product tandem
out=sweeps/negatives-$dataset
rows=(
  "in-batch-B256|--batch-size 256"
  "in-batch-B1024|--batch-size 1024"
  "in-batch-B4096|--batch-size 4096"
  "mixed-B1024+1024|--negative-sampling mixed --sampled-negatives 1024"
  "moco-B1024+Q4096|--queue-size 4096"
  "all-items-B1024|--negative-sampling all"
)
args=()
for row in "${rows[@]}"; do
  label=${row%%|*}; flags=${row#*|}
  if [ "$(ls "$out/$label"/*.json 2>/dev/null | wc -l)" -lt 3 ]; then  # a finished row has its 3 seeds' files
    # shellcheck disable=SC2086
    "$bin" compare --models mf --seeds 3 --dataset "$dataset" --embedding-dim 64 --learning-rate 0.01 $flags "$@" --results-dir "$out/$label" >&2
  fi
  args+=("$label=$out/$label")
done
python3 scripts/sweeps/summarize_runs.py "${args[@]}"
