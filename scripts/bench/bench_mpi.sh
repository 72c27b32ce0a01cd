#!/usr/bin/env bash
# Data-parallel scaling on one machine, in one run: training examples/s of one epoch on a synthetic dataset for
# one process × 1 thread, one process × 2 threads, and 2 MPI ranks × 1 thread (with the share of the epoch spent in
# communication), then the collective calls' α–β fit. Figures go to docs/DISTRIBUTED.md.
# Usage: bash scripts/bench/bench_mpi.sh [DATASET] [MODEL]   (default: 10M interactions, MF)
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:-synthetic:users=100000,items=100000,interactions=10000000}
model=${2:-mf}
swift build -c release --scratch-path .build/mpi --traits MPI --product tandem 2>&1 | grep -E "error|Build" || true
bin="$PWD/.build/mpi/release/tandem"
mpirun=(mpirun --allow-run-as-root --mca plm isolated --bind-to core)
args=(train-bench --model "$model" --dataset "$dataset" --epochs 1)
echo "== $(date -u +%F) $(nproc) cores; $model on $dataset"
echo "-- 1 process, 1 thread";  "$bin" "${args[@]}" --threads 1
echo "-- 1 process, 2 threads"; "$bin" "${args[@]}" --threads 2
echo "-- 2 ranks, 1 thread each"; "${mpirun[@]}" -np 2 "$bin" "${args[@]}" --threads 1
echo "-- collective calls, 2 ranks"; "${mpirun[@]}" -np 2 "$bin" comm-bench
