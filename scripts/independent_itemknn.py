#!/usr/bin/env python3
"""An independent ItemKNN computation (RecBole's ItemKNN: cosine with shrink, k neighbours per item), to check
Tandem's `--model itemknn`.

Reads train.tsv, valid.tsv, test.tsv (as `tandem data split` writes them), computes s(l, i) = c_li / (|x_l| |x_i| +
shrink + 1e-6) between item columns without self-similarity, keeps each item's k most similar items, scores X W,
removes each user's train and valid items, and prints the test metrics averaged over users with test items.
NumPy only: shares no code with Tandem.

    python3 scripts/independent_itemknn.py DIR K SHRINK [CUTOFF ...]
"""
import math
import sys
from collections import defaultdict

import numpy as np

from independent_ease import read


def main():
    d, k, shrink = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    ks = [int(c) for c in sys.argv[4:]] or [10, 20]
    train, valid, test = (read(f"{d}/{n}.tsv") for n in ("train", "valid", "test"))
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
    sums = defaultdict(float)
    for u, rel in truth.items():
        row = scores[u].copy()
        row[list(seen[u])] = -np.inf
        top = list(np.lexsort((np.arange(len(row)), -row))[: max(ks)])
        for cut in ks:
            hits = [r for r, i in enumerate(top[:cut], 1) if i in rel]
            sums[f"recall@{cut}"] += len(hits) / len(rel)
            sums[f"ndcg@{cut}"] += sum(1 / math.log2(r + 1) for r in hits) / sum(
                1 / math.log2(r + 1) for r in range(1, min(len(rel), cut) + 1))
            sums[f"mrr@{cut}"] += 1.0 / hits[0] if hits else 0.0
    for name in sorted(sums):
        print(f"{name}\t{sums[name] / len(truth):.4f}")


if __name__ == "__main__":
    main()
