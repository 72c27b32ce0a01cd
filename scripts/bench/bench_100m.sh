#!/usr/bin/env bash
# The 100M-interaction run on one machine: one training epoch of each model on a synthetic log of 10^8 interactions
# over 10^6 users and 10^6 items (80/10/10 split), with the epoch's time, examples/s, loading time, peak RSS, and a
# flat CPU profile (perf, user space) of where the time goes. Figures go to docs/BENCHMARKS.md.
# Usage: bash scripts/bench/bench_100m.sh [MODEL...]   (default: mf two-tower; DATASET=… overrides the dataset, and
# MODEL_FLAGS="…" adds train flags, e.g. MODEL_FLAGS="--ssl none" bash scripts/bench/bench_100m.sh two-tower)
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${DATASET:-synthetic:users=1000000,items=1000000,interactions=100000000}
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(mf two-tower)
swift build -c release --product tandem 2>&1 | grep -E "error|Compiling|Build" | tail -1
bin="$PWD/.build/release/tandem"
out=$(mktemp -d)
echo "== $(date -u +%F) $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $dataset"
for model in "${models[@]}"; do
  echo "-- $model"
  profile=()
  command -v perf >/dev/null 2>&1 && profile=(perf record -q -F 49 -e cpu-clock -o "$out/$model.perf" --)
  /usr/bin/time -f "wall %e s, user %U s, max RSS %M KiB (GNU time)" "${profile[@]}" "$bin" train-bench --model "$model" --dataset "$dataset" --epochs 1 ${MODEL_FLAGS:-}
  if [ ${#profile[@]} -gt 0 ]; then
    echo "   where the time goes (perf, share of CPU samples, symbols ≥ 2%):"
    perf report -i "$out/$model.perf" --stdio --sort dso,symbol --percent-limit 2 2>/dev/null | grep -E '^ +[0-9]' \
      | { if command -v swift >/dev/null 2>&1; then swift demangle --simplified; else cat; fi; } | cut -c1-160 | sed "s/ *$//" | head -20
  fi
done
rm -rf "$out"
