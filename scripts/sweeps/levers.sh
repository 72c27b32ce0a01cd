#!/usr/bin/env bash
# The two-tower lever table (docs/BENCHMARKS.md): `tandem compare --models two-tower --seeds 3` on ml-100k with one
# lever changed per row (rows without `--ssl` run with `--ssl none`, the plain model).
# Usage: bash scripts/sweeps/levers.sh [OUT_DIR] [LEVER…] (default: every lever). Each lever's table lands in OUT_DIR/LEVER.txt,
# its runs' JSON in OUT_DIR/LEVER/ (python3 scripts/sweeps/lever_table.py OUT_DIR prints the markdown table).
# Extra flags: TANDEM_FLAGS="--threads 1"; another binary: TANDEM_BIN.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-levers}; shift || true
declare -A flags=(
  [baseline]=""
  [uniform]="--negative-sampling uniform"
  [popularity]="--negative-sampling popularity"
  [mixed]="--negative-sampling mixed"
  [logged]="--preset logged"
  [moco256]="--queue-size 256"
  [moco1024]="--queue-size 1024"
  [moco1024-compensated]="--queue-size 1024 --queue-logq true --queue-compensation true"
  [concat]="--prototypes 64"
  [senet-item]="--senet item"
  [senet-both]="--senet both"
  [ssl-fd-item]="--ssl item --ssl-augmentation fd"
  [ssl-rfm-item]="--ssl item --ssl-augmentation rfm"
  [ssl-cfm-item]="--ssl item --ssl-augmentation cfm"
  [ssl-fd-user]="--ssl user --ssl-augmentation fd"
  [ssl-rfm-user]="--ssl user --ssl-augmentation rfm"
  [ssl-cfm-user]="--ssl user --ssl-augmentation cfm"
  [ssl-fd-both]="--ssl both --ssl-augmentation fd"
  [ssl-rfm-both]="--ssl both --ssl-augmentation rfm"
  [ssl-cfm-both]="--ssl both --ssl-augmentation cfm"
  [history20]="--history-length 20"
  [ssl-cfm-item-weight0.3]="--ssl item --ssl-augmentation cfm --ssl-weight 0.3"
  [ssl-cfm-item-weight1]="--ssl item --ssl-augmentation cfm --ssl-weight 1"
  [ssl-senet-moco]="--ssl item --ssl-augmentation cfm --senet item --queue-size 1024"
  [baseline-10pct]="--train-fraction 0.1"
  [ssl-cfm-item-10pct]="--train-fraction 0.1 --ssl item --ssl-augmentation cfm"
  [ssl-cfm-item-1pct]="--train-fraction 0.01 --ssl item --ssl-augmentation cfm"
  [no-logq-10pct]="--train-fraction 0.1 --logq false"
  [no-logq-1pct]="--train-fraction 0.01 --logq false"
  [ssl-cfm-both-10pct]="--train-fraction 0.1 --ssl both --ssl-augmentation cfm"
  [baseline-1pct]="--train-fraction 0.01"
  [ssl-cfm-both-1pct]="--train-fraction 0.01 --ssl both --ssl-augmentation cfm"
)
levers=("$@")
[ ${#levers[@]} -eq 0 ] && levers=(baseline uniform popularity mixed logged moco256 moco1024 moco1024-compensated concat senet-item senet-both
  ssl-fd-item ssl-rfm-item ssl-cfm-item ssl-fd-user ssl-rfm-user ssl-cfm-user ssl-fd-both ssl-rfm-both ssl-cfm-both history20
  ssl-cfm-item-weight0.3 ssl-cfm-item-weight1 ssl-senet-moco baseline-10pct ssl-cfm-item-10pct ssl-cfm-both-10pct no-logq-10pct
  baseline-1pct ssl-cfm-item-1pct ssl-cfm-both-1pct no-logq-1pct)
mkdir -p "$out"
for lever in "${levers[@]}"; do
  [ -n "${flags[$lever]+x}" ] || { echo "unknown lever $lever; levers: ${!flags[*]}" >&2; exit 1; }
  # One lever at a time against the plain model: the self-supervised task (the two-tower default) only where named.
  base="--ssl none"; [[ "${flags[$lever]}" == *--ssl* ]] && base=""
  # shellcheck disable=SC2086
  "${TANDEM_BIN:-.build/release/tandem}" compare --models two-tower --seeds 3 $base ${flags[$lever]} ${TANDEM_FLAGS:-} --results-dir "$out/$lever" \
    | tail -n 2 | sed "s/^two-tower/$lever/" > "$out/$lever.txt"
  cat "$out/$lever.txt"
done
