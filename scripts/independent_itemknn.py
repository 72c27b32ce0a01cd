#!/usr/bin/env python3
"""An independent ItemKNN computation (RecBole's ItemKNN: cosine with shrink, k neighbours per item), to check
Tandem's `--model itemknn`.

Reads train.tsv, valid.tsv, test.tsv (as `tandem data split` writes them), computes s(l, i) = c_li / (|x_l| |x_i| +
shrink + 1e-6) between item columns without self-similarity, keeps each item's k most similar items, scores X W,
removes each user's train and valid items, and prints the test metrics averaged over users with test items.
NumPy only: shares no code with Tandem.

    python3 scripts/independent_itemknn.py DIR K SHRINK [CUTOFF ...]
"""
import sys
from collections import defaultdict

import numpy as np

from independent_common import load_split, metrics, print_metrics


def main():
    d, k, shrink = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    ks = [int(c) for c in sys.argv[4:]] or [10, 20]
    train, valid, test = load_split(d)
    users = sorted({u for u, _ in train + valid + test})
    items = sorted({i for _, i in train + valid + test})
    uix, iix = {u: n for n, u in enumerate(users)}, {i: n for n, i in enumerate(items)}
    x = np.zeros((len(users), len(items)))
    for u, i in train:
        x[uix[u], iix[i]] = 1.0
    c = x.T @ x
    norms = np.sqrt(np.diag(c))
    s = c / (norms[:, None] * norms[None, :] + shrink + 1e-6)
    np.fill_diagonal(s, -np.inf)
    w = np.zeros_like(s)
    for i in range(len(items)):
        col = s[:, i]
        keep = np.lexsort((np.arange(len(col)), -col))[: min(k, len(items) - 1)]
        w[keep, i] = col[keep]
    scores = x @ w
    seen, truth = defaultdict(set), defaultdict(set)
    for u, i in train + valid:
        seen[uix[u]].add(iix[i])
    for u, i in test:
        truth[uix[u]].add(iix[i])

    def top_of(u):
        row = scores[u].copy()
        row[list(seen[u])] = -np.inf
        return list(np.lexsort((np.arange(len(row)), -row))[: max(ks)])

    print_metrics(metrics(top_of, truth, ks))


if __name__ == "__main__":
    main()
