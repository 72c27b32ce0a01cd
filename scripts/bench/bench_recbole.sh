#!/usr/bin/env bash
# Side-by-side seconds per training epoch, Tandem against RecBole 1.2.1 (CPU PyTorch), on ml-100k in one run:
# batch 2048, 64-d, BPR main loss (RecBole's default for these models), 2 threads each. A benchmark, not a test; CI
# does not run it. RecBole and PyTorch go into .venv-recbole (gitignored; the first run downloads ~1 GB).
# RecBole 1.2.1 ships BPR, LightGCN and SGL; SimGCL/XSimGCL live in recbole-gnn, which is not on PyPI, so those two
# are timed on Tandem's side only.
# Usage: bash scripts/bench/bench_recbole.sh [epochs] — RecBole's timed epochs (default 3). Tandem's epochs take a tenth of
# the time, so a burst of load from a neighbour on this shared machine moves a 3-epoch median by a third; Tandem times
# TANDEM_EPOCHS (default 20) epochs and takes their median.
set -euo pipefail
cd "$(dirname "$0")/../.."
epochs=${1:-3}
tandem_epochs=${TANDEM_EPOCHS:-20}
venv=.venv-recbole
if [ ! -x $venv/bin/python ] || ! $venv/bin/python -c "import recbole, torch" 2>/dev/null; then
  python3 -m venv $venv
  $venv/bin/pip install -q "torch==2.13.0+cpu" 2>/dev/null || $venv/bin/pip install -q torch  # the CPU wheel where a wheel folder has it
  $venv/bin/pip install -q "recbole==1.2.1" "scipy<1.12" "numpy<2" "pandas<3"
fi
bin=.build/release/tandem
[ -x $bin ] || swift build -c release
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F); torch $($venv/bin/python -c 'import torch; print(torch.__version__)')"

# Tandem: median epoch time of epochs 2..N+1 from the training log (the first epoch is a warm-up, as on RecBole's side).
tandem_epoch() {
  $bin train --model "$1" --loss bpr --similarity dot --temperature 1 --logq false --batch-size 2048 --embedding-dim 64 \
    --threads 2 --epochs $((tandem_epochs + 1)) --eval-every 1000 --patience 1000 --dataset ml-100k "${@:2}" 2>&1 |
    awk '/^epoch/ && $2 > 1 { sub("s$", "", $NF); print $NF }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
# Each row runs the same model on both sides with the same number of propagation layers: RecBole's LightGCN defaults
# to 2 layers and Tandem's (the paper's) to 3, so LightGCN is timed at both K, each side told the other's setting.
# SGL is 3 layers on both sides by default.
rows=("BPR|mf|BPR" "LightGCN (K=3)|lightgcn --layers 3|LightGCN:n_layers=3" "LightGCN (K=2)|lightgcn --layers 2|LightGCN"
      "SGL (ED, K=3)|sgl --layers 3|SGL" "SimGCL|simgcl|" "XSimGCL|xsimgcl|")
declare -A ours theirs
specs=()
for row in "${rows[@]}"; do
  IFS='|' read -r label ourArgs theirSpec <<< "$row"
  # shellcheck disable=SC2086  # ourArgs is a model name plus flags
  ours[$label]=$(tandem_epoch $ourArgs)
  [ -n "$theirSpec" ] && specs+=("$theirSpec")
done
while read -r _ spec secs; do theirs[$spec]=$secs; done < <(THREADS=2 EPOCHS=$epochs $venv/bin/python scripts/bench/bench_recbole.py "${specs[@]}" 2>/dev/null | grep '^recbole')
printf "| model | RecBole 1.2.1 s/epoch | Tandem s/epoch | speed-up |\n| --- | --- | --- | --- |\n"
for row in "${rows[@]}"; do
  IFS='|' read -r label _ theirSpec <<< "$row"
  r=""; [ -n "$theirSpec" ] && r=${theirs[$theirSpec]:-}
  if [ -n "$r" ]; then printf "| %s | %s | %s | %.1f× |\n" "$label" "$r" "${ours[$label]}" "$(echo "$r / ${ours[$label]}" | bc -l)"
  else printf "| %s | (not in RecBole 1.2.1) | %s | |\n" "$label" "${ours[$label]}"; fi
done
