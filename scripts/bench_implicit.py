#!/usr/bin/env python3
"""The `implicit` library's ALS on a split written by `tandem data split`: seconds per iteration and test metrics,
for the side-by-side with Tandem's iALS (scripts/bench_implicit.sh). CPU, `threads` threads.

    python3 scripts/bench_implicit.py DIR FACTORS ITERATIONS REGULARIZATION ALPHA THREADS
"""
import sys
import time
from collections import defaultdict

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from independent_common import load_split, metrics, print_metrics


def main():
    d, factors, iterations, reg, alpha, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    train, valid, test = load_split(d)
    users = sorted({u for u, _ in train + valid + test})
    items = sorted({i for _, i in train + valid + test})
    uix, iix = {u: k for k, u in enumerate(users)}, {i: k for k, i in enumerate(items)}
    rows, cols = zip(*[(uix[u], iix[i]) for u, i in train])
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
    model = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=alpha, iterations=iterations,
                                    num_threads=threads, random_state=2020, calculate_training_loss=False)
    start = time.perf_counter()
    model.fit(x, show_progress=False)
    seconds = (time.perf_counter() - start) / iterations
    scores = np.asarray(model.user_factors) @ np.asarray(model.item_factors).T
    seen, truth = defaultdict(set), defaultdict(set)
    for u, i in train + valid:
        seen[uix[u]].add(iix[i])
    for u, i in test:
        truth[uix[u]].add(iix[i])

    def top_of(u):
        row = scores[u].copy()
        row[list(seen[u])] = -np.inf
        return list(np.lexsort((np.arange(len(row)), -row))[:20])

    print(f"seconds_per_iteration\t{seconds:.3f}")
    print_metrics(metrics(top_of, truth, [20]))


if __name__ == "__main__":
    main()
