#!/usr/bin/env bash
# Data-parallel training on 2 MPI ranks, checked against one process (OpenMPI; `bash scripts/setup.sh` installs it):
#  1. equivalence: on ml-100k, 3 epochs at global batch 1024, MF (in-batch, mixed, a MoCo queue), two-tower (with and
#     without SSL) and SGL: per-epoch training losses within 1e-4 relative and test metrics within 0.002 of one process;
#     with --gather-negatives false, each rank's rows see only its own positives (= one process at half the batch);
#  2. a rank given another seed is refused at start, and a rank that cannot read its data stops the job, naming the rank;
#  3. a rank killed mid-epoch stops every rank within 10 s, non-zero, and no model directory is written;
#  4. a run killed after a checkpoint and resumed with --resume on 2 ranks ends as the uninterrupted 2-rank run.
# Builds the MPI variant into .build/mpi (the default build in .build stays MPI-free).
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --scratch-path .build/mpi --traits MPI --product tandem 2>&1 | grep -E "error|warning: unre|Compiling tandem|Build" || true
bin="$PWD/.build/mpi/release/tandem"
[ -x "$bin" ] || { echo "check_mpi: the MPI build failed" >&2; exit 1; }
mpirun=(mpirun --allow-run-as-root --mca plm isolated --oversubscribe)
out=$(mktemp -d /tmp/tandem-mpi.XXXXXX)
trap 'rm -rf "$out"' EXIT

check() {  # label, then train flags
  local label=$1; shift
  local args=(train --dataset ml-100k --epochs 3 --batch-size 1024 --threads 1 --quiet "$@")
  "$bin" "${args[@]}" --distributed none --results "$out/$label-1.json" > "$out/$label-1.log"
  "${mpirun[@]}" -np 2 "$bin" "${args[@]}" --results "$out/$label-2.json" > "$out/$label-2.log"
  grep -q "data-parallel on 2 ranks" "$out/$label-2.log" || { echo "check_mpi: $label did not run on 2 ranks" >&2; exit 1; }
  python3 - "$out/$label-1.json" "$out/$label-2.json" "$label" <<'PY'
import json, sys
one, two, label = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
worst = 0.0
for e1, e2 in zip(one["epochs"], two["epochs"], strict=True):
    rel = abs(e1["loss"] - e2["loss"]) / abs(e1["loss"])
    worst = max(worst, rel)
    assert rel <= 1e-4, f"{label} epoch {e1['epoch']}: loss {e1['loss']} alone vs {e2['loss']} on 2 ranks"
gap = max(abs(one["test"][k] - two["test"][k]) for k in one["test"])
assert gap <= 0.002, f"{label}: test metrics differ by {gap}"
print(f"check_mpi: {label}: {len(one['epochs'])} epochs' losses within {worst:.1e} relative, test metrics within {gap:.1e} on 2 ranks vs 1")
PY
}
check mf --model mf
check mf-mixed --model mf --negative-sampling mixed
check mf-moco --model mf --queue-size 4096
check two-tower --model two-tower --ssl none
check two-tower-ssl --model two-tower --ssl item
check sgl --model sgl --epochs 2

# Resume under MPI: a 2-rank run writing a checkpoint after every step is killed (rank 1, SIGKILL) during its first
# epoch; `--resume` on 2 ranks (every rank reads rank 0's checkpoint) ends with the uninterrupted 2-rank run's losses
# and test metrics (mf-2.json above).
"${mpirun[@]}" -np 2 "$bin" train --dataset ml-100k --epochs 3 --batch-size 1024 --threads 1 --quiet --model mf \
  --checkpoint "$out/ck" --checkpoint-minutes 0.000001 --results "$out/killed-2.json" > "$out/ck.log" 2>&1 &
job=$!
for _ in $(seq 1 600); do [ -e "$out/ck/checkpoint.safetensors" ] && break; sleep 0.05; done
sleep 0.3
for pid in $(pgrep -f "$bin train --dataset ml-100k --epochs 3"); do
  if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then kill -9 "$pid"; fi
done
set +e
wait "$job"
rc=$?
set -e
if [ "$rc" -eq 0 ] || [ -e "$out/killed-2.json" ]; then
  echo "check_mpi: the checkpointed run was not killed before it ended (rc $rc)" >&2; cat "$out/ck.log" >&2; exit 1
fi
"${mpirun[@]}" -np 2 "$bin" train --resume "$out/ck" > "$out/resume.log"
python3 - "$out/mf-2.json" "$out/killed-2.json" "$(grep -m1 'resumed:' "$out/resume.log" || true)" <<'PY'
import json, sys
whole, resumed = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a, b = [e["loss"] for e in whole["epochs"]], [e["loss"] for e in resumed["epochs"]]
assert a == b, f"resumed run's losses {b} differ from the uninterrupted run's {a}"
assert whole["test"] == resumed["test"], "resumed run's test metrics differ from the uninterrupted run's"
print(f"check_mpi: killed mid-run ({sys.argv[3]}) and resumed on 2 ranks: the same {len(a)} epoch losses and test metrics as the uninterrupted run")
PY

# Per-replica negatives (--gather-negatives false): with the parameters frozen (a step of 1e-30 moves no float32
# value), each rank's rows scored against its own share's positives give the epoch loss of one process at half the
# batch (80,808 training rows = 78 × 1036: no ragged batch); gathered negatives (the default) give a larger loss.
frozen=(train --model mf --dataset ml-100k --epochs 1 --learning-rate 1e-30 --threads 1 --quiet)
"$bin" "${frozen[@]}" --batch-size 518 --distributed none --results "$out/half-1.json" > /dev/null
"${mpirun[@]}" -np 2 "$bin" "${frozen[@]}" --batch-size 1036 --gather-negatives false --results "$out/local-2.json" > /dev/null
"${mpirun[@]}" -np 2 "$bin" "${frozen[@]}" --batch-size 1036 --results "$out/gathered-2.json" > /dev/null
python3 - "$out/half-1.json" "$out/local-2.json" "$out/gathered-2.json" <<'PY'
import json, sys
half, local, gathered = (json.load(open(p))["epochs"][0]["loss"] for p in sys.argv[1:])
rel = abs(half - local) / abs(half)
assert rel <= 1e-5, f"per-replica negatives on 2 ranks: loss {local} vs {half} for one process at half the batch"
assert gathered > local, f"gathered negatives should give the larger loss: {gathered} vs {local}"
print(f"check_mpi: per-replica negatives on 2 ranks = one process at half the batch ({rel:.1e} relative); gathered: {gathered:.4f} > {local:.4f}")
PY

# A rank with another seed: refused before training.
set +e
"${mpirun[@]}" -np 1 "$bin" train --model mf --dataset ml-100k --epochs 1 --seed 1 : -np 1 "$bin" train --model mf --dataset ml-100k --epochs 1 --seed 2 > "$out/seed.log" 2>&1
rc=$?
set -e
if [ "$rc" -eq 0 ] || ! grep -q "rank 1 has a different config" "$out/seed.log"; then
  echo "check_mpi: ranks with different seeds were not refused (rc $rc)" >&2; cat "$out/seed.log" >&2; exit 1
fi
echo "check_mpi: ranks with different seeds refused (rc $rc): $(grep -m1 'different config' "$out/seed.log")"

# A rank that cannot read its data: every rank stops, and the message names the rank and the file.
"$bin" data split --dataset ml-100k --out "$out/split" > /dev/null
files=(--valid "$out/split/valid.tsv" --test "$out/split/test.tsv")
set +e
"${mpirun[@]}" -np 1 "$bin" train --model mf --epochs 1 --train "$out/split/train.tsv" "${files[@]}" \
             : -np 1 "$bin" train --model mf --epochs 1 --train "$out/split/missing.tsv" "${files[@]}" > "$out/read.log" 2>&1
rc=$?
set -e
if [ "$rc" -eq 0 ] || ! grep -q "rank 1: error: .*missing.tsv" "$out/read.log"; then
  echo "check_mpi: a rank that cannot read its data did not stop the job clearly (rc $rc)" >&2; cat "$out/read.log" >&2; exit 1
fi
echo "check_mpi: a rank without its data stopped the job (rc $rc): $(grep -m1 'rank 1: error' "$out/read.log")"

# A rank killed mid-epoch: every rank stops within 10 s, non-zero, and no model directory appears. The first validation
# (and so the first checkpoint) comes after epoch 20, so the kill lands before any checkpoint however fast the machine;
# a job killed after one leaves that whole checkpoint (files written atomically, the manifest last).
"${mpirun[@]}" -np 2 "$bin" train --model mf --dataset ml-100k --epochs 20 --eval-every 20 --batch-size 16 --threads 1 --output "$out/model" > "$out/kill.log" 2>&1 &
job=$!
for _ in $(seq 1 600); do grep -q "data-parallel on 2 ranks" "$out/kill.log" && break; sleep 0.1; done
sleep 1
victim=""
for pid in $(pgrep -f "$bin train --model mf"); do
  if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
done
[ -n "$victim" ] || { echo "check_mpi: rank 1 not found" >&2; kill "$job"; exit 1; }
kill -9 "$victim"
start=$(date +%s.%N)
set +e
wait "$job"
rc=$?
set -e
took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)")
if [ "$rc" -eq 0 ] || python3 -c "import sys; sys.exit(float(sys.argv[1]) <= 10)" "$took" || [ -e "$out/model" ]; then
  echo "check_mpi: after killing rank 1: rc $rc after $took s; model directory present: $([ -e "$out/model" ] && echo yes || echo no)" >&2
  cat "$out/kill.log" >&2; exit 1
fi
echo "check_mpi: rank 1 killed mid-epoch: every rank stopped in $took s with rc $rc, no model directory; mpirun said: $(grep -m1 -i 'rank 1\|signal' "$out/kill.log")"

# The collective-call benchmark runs and fits its model (figures: docs/DISTRIBUTED.md).
"${mpirun[@]}" -np 2 "$bin" comm-bench --repeats 5 --max-floats 65536 > "$out/bench.log"
grep -q "allreduce: α" "$out/bench.log" || { echo "check_mpi: comm-bench printed no fit" >&2; cat "$out/bench.log" >&2; exit 1; }
echo "check_mpi: comm-bench: $(grep 'allreduce: α' "$out/bench.log")"
