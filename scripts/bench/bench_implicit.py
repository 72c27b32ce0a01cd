#!/usr/bin/env python3
"""The `implicit` library's ALS on a split written by `tandem data split`: seconds per iteration and test metrics,
for the side-by-side with Tandem's iALS (scripts/bench/bench_implicit.sh). CPU, `threads` threads.

    python3 scripts/bench/bench_implicit.py DIR FACTORS ITERATIONS REGULARIZATION ALPHA THREADS
"""
import sys
import time
import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from independent_common import load_split, print_metrics, score_evaluation


def main():
    d, factors, iterations, reg, alpha, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    timing = {}

    def scores(x):
        model = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=alpha, iterations=iterations,
                                        num_threads=threads, random_state=2020, calculate_training_loss=False)
        matrix = sp.csr_matrix(x.astype(np.float32))
        start = time.perf_counter()
        model.fit(matrix, show_progress=False)
        timing["seconds"] = (time.perf_counter() - start) / iterations
        return np.asarray(model.user_factors) @ np.asarray(model.item_factors).T

    values = score_evaluation(*load_split(d), [20], scores)
    print(f"seconds_per_iteration\t{timing['seconds']:.3f}")
    print_metrics(values)


if __name__ == "__main__":
    main()
