#!/usr/bin/env python3
"""An independent EASE computation (Steck 2019), to check Tandem's `--model ease`.

Reads train.tsv, valid.tsv, test.tsv (header user_id, item_id; as `tandem data split` writes them), builds the
training matrix X, computes B = I - P diag(1/diag P) with P = (X^T X + lambda I)^-1 and diag(B) = 0 by numpy's dense
inverse, scores X B, removes each user's train and valid items, and prints Recall/NDCG/MRR/Hit/Precision@K on the test
split averaged over users with test items. NumPy only: shares no code with Tandem.

    python3 scripts/independent_ease.py DIR LAMBDA [K ...]
"""
import sys
from collections import defaultdict

import numpy as np

from independent_common import load_split, metrics, print_metrics


def main():
    d, lam = sys.argv[1], float(sys.argv[2])
    ks = [int(k) for k in sys.argv[3:]] or [10, 20]
    train, valid, test = load_split(d)
    users = sorted({u for u, _ in train + valid + test})
    items = sorted({i for _, i in train + valid + test})
    uix, iix = {u: k for k, u in enumerate(users)}, {i: k for k, i in enumerate(items)}
    x = np.zeros((len(users), len(items)))
    for u, i in train:
        x[uix[u], iix[i]] = 1.0
    g = x.T @ x + lam * np.eye(len(items))
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    scores = x @ b
    seen, truth = defaultdict(set), defaultdict(set)
    for u, i in train + valid:
        seen[uix[u]].add(iix[i])
    for u, i in test:
        truth[uix[u]].add(iix[i])

    def top_of(u):
        s = scores[u].copy()
        s[list(seen[u])] = -np.inf
        # Best first; ties (rare with real-valued scores) to the lower item index.
        return list(np.lexsort((np.arange(len(s)), -s))[: max(ks)])

    print_metrics(metrics(top_of, truth, ks))


if __name__ == "__main__":
    main()
