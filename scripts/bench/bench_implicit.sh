#!/usr/bin/env bash
# iALS side by side with the `implicit` library (PyPI wheel, CPU ALS with conjugate gradients) on one split of a
# dataset: seconds per iteration (2 threads each) and test NDCG@20/Recall@20 of both, same factors and iterations.
# Both solve by conjugate gradients (3 steps). The objectives differ (implicit: confidence 1 + alpha on observed pairs and one lambda; Tandem: Rendle et al.'s
# unobserved weight alpha0 and frequency-scaled lambda), so each side runs with its own settings, printed below.
# A benchmark, not a test; CI does not run it. implicit goes into .venv-implicit (gitignored).
# Usage: bash scripts/bench/bench_implicit.sh [dataset] [iterations]
set -euo pipefail
cd "$(dirname "$0")/../.."
dataset=${1:-ml-1m}
iterations=${2:-16}
venv=.venv-implicit
if [ ! -x $venv/bin/python ] || ! $venv/bin/python -c "import implicit, scipy" 2>/dev/null; then
  python3 -m venv $venv
  $venv/bin/pip install -q "implicit==0.7.3" scipy numpy
fi
bin=.build/release/tandem
[ -x $bin ] || swift build -c release --product tandem
split=$(mktemp -d)
trap 'rm -rf "$split"' EXIT
$bin data split --dataset "$dataset" --out "$split" >/dev/null
echo "machine: $(nproc) cores; $(date -u +%F); $dataset, 64 factors, $iterations iterations, 2 threads each"
# Tandem: the mean seconds of its alternating passes, and the test metrics of the pass it keeps on validation.
log=$($bin train --model ials --train "$split/train.tsv" --valid "$split/valid.tsv" --test "$split/test.tsv" \
  --embedding-dim 64 --ials-iterations "$iterations" --threads 2 --results "$split/tandem.json")
tandem_s=$(echo "$log" | awk '/^ials pass/ { sub("s,$", "", $4); t += $4; n++ } END { printf "%.3f", t / n }')
tandem_m=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['test']; print(f\"{r['ndcg@20']:.4f} {r['recall@20']:.4f}\")" "$split/tandem.json")
# implicit: its defaults for alpha (1) and a regularization of 0.05, 2 threads.
out=$(cd scripts && OPENBLAS_NUM_THREADS=1 ../$venv/bin/python bench_implicit.py "$split" 64 "$iterations" 0.05 1.0 2)
implicit_s=$(echo "$out" | awk '/^seconds_per_iteration/ { print $2 }')
implicit_m=$(echo "$out" | awk '/^ndcg@20/ { n = $2 } /^recall@20/ { r = $2 } END { print n, r }')
echo "| library | seconds per iteration | test NDCG@20 | test Recall@20 |"
echo "| --- | --- | --- | --- |"
echo "| implicit 0.7.3 (alpha 1, regularization 0.05, CG) | $implicit_s | ${implicit_m% *} | ${implicit_m#* } |"
echo "| Tandem iALS (alpha0 0.5, lambda 0.01, nu 1, 3 CG steps) | $tandem_s | ${tandem_m% *} | ${tandem_m#* } |"
python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'Tandem / implicit time per iteration: {b / a:.2f}')" "$implicit_s" "$tandem_s"
