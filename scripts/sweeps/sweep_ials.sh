#!/usr/bin/env bash
# The sweep behind iALS's defaults: the best validation NDCG@20 over 16 passes for each (α0, λ), seed 2020, on a
# dataset (default ml-100k). Chooses on validation only; test is never printed.
# Usage: bash scripts/sweeps/sweep_ials.sh [dataset]
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:-ml-100k}
bin=.build/release/tandem
[ -x $bin ] || swift build -c release --product tandem
echo "| α0 | λ | best valid NDCG@20 |"
echo "| --- | --- | --- |"
for a in 0.02 0.05 0.1 0.2 0.5; do
  for l in 0.005 0.01 0.02 0.03 0.05 0.2; do
    v=$($bin train --model ials --dataset "$dataset" --ials-unobserved-weight $a --ials-regularization $l 2>&1 |
      awk '/^ials pass/ { if ($NF > best) best = $NF } END { print best }')
    echo "| $a | $l | $v |"
  done
done
