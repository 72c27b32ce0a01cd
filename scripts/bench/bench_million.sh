#!/usr/bin/env bash
# A million items end to end (#29): MF trained for one epoch on a synthetic log of 10^8 interactions over 10^6 users
# and 10^6 items, evaluated on a sample of users (exact metrics for each, with 95% sampling intervals), saved as a
# model directory, indexed (HNSW, recall@10 against exact), then served under paced load, at saturation and through
# hot reloads (scripts/bench/bench_serve.sh). Each step's time and peak memory (GNU time) is printed.
# Usage: bash scripts/bench/bench_million.sh        DIM=64 EVAL_USERS=10000 FACTORY=HNSW32 WORK=dir override the defaults;
#   STEPS="train index serve" picks steps (a later step reuses WORK's model directory); BIN=path skips the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${DATASET:-synthetic:users=1000000,items=1000000,interactions=100000000}
dim=${DIM:-64}
factory=${FACTORY:-HNSW32}
work=${WORK:-$(mktemp -d)}
steps=${STEPS:-train index serve}
if [ -z "${BIN:-}" ]; then swift build -c release --product tandem 2>&1 | grep -E "error|Build" | tail -1; fi
bin=${BIN:-$PWD/.build/release/tandem}
echo "== $(date -u +%F) $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $dataset; MF ${dim}-d; work $work"
if [[ $steps == *train* ]]; then
  echo "-- train: one epoch, evaluation on ${EVAL_USERS:-10000} sampled users, model directory"
  /usr/bin/time -f "train: wall %e s, max RSS %M KiB" "$bin" train --model mf --embedding-dim "$dim" --dataset "$dataset" \
    --epochs 1 --eval-users "${EVAL_USERS:-10000}" --output "$work/model" --results "$work/results.json"
  du -sh "$work/model"
fi
if [[ $steps == *index* ]]; then
  echo "-- index: $factory over the item embeddings"
  /usr/bin/time -f "index: wall %e s, max RSS %M KiB" "$bin" index build --model-dir "$work/model" --factory "$factory"
fi
if [[ $steps == *serve* ]]; then
  echo "-- serve: $factory"
  FACTORY=$factory BIN="$bin" bash scripts/bench/bench_serve.sh "$work/model"
fi
