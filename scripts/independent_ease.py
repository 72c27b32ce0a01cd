#!/usr/bin/env python3
"""An independent EASE computation (Steck 2019), to check Tandem's `--model ease`.

Reads train.tsv, valid.tsv, test.tsv (header user_id, item_id; as `tandem data split` writes them), builds the
training matrix X, computes B = I - P diag(1/diag P) with P = (X^T X + lambda I)^-1 and diag(B) = 0 by numpy's dense
inverse, scores X B, removes each user's train and valid items, and prints Recall/NDCG/MRR/Hit/Precision@K on the test
split averaged over users with test items. NumPy only: shares no code with Tandem.

    python3 scripts/independent_ease.py DIR LAMBDA [K ...]
"""
import math
import sys
from collections import defaultdict

import numpy as np


def read(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        u, i = header.index("user_id"), header.index("item_id")
        return [(row[u], row[i]) for row in (line.rstrip("\n").split("\t") for line in f) if len(row) > 1]


def main():
    d, lam = sys.argv[1], float(sys.argv[2])
    ks = [int(k) for k in sys.argv[3:]] or [10, 20]
    train, valid, test = (read(f"{d}/{n}.tsv") for n in ("train", "valid", "test"))
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
    sums = defaultdict(float)
    for u, rel in truth.items():
        s = scores[u].copy()
        s[list(seen[u])] = -np.inf
        # Best first; ties (rare with real-valued scores) to the lower item index.
        top = list(np.lexsort((np.arange(len(s)), -s))[: max(ks)])
        for k in ks:
            hits = [r for r, i in enumerate(top[:k], 1) if i in rel]
            sums[f"recall@{k}"] += len(hits) / len(rel)
            sums[f"precision@{k}"] += len(hits) / k
            sums[f"hit@{k}"] += 1.0 if hits else 0.0
            sums[f"mrr@{k}"] += 1.0 / hits[0] if hits else 0.0
            dcg = sum(1 / math.log2(r + 1) for r in hits)
            idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(rel), k) + 1))
            sums[f"ndcg@{k}"] += dcg / idcg
    for name in sorted(sums):
        print(f"{name}\t{sums[name] / len(truth):.4f}")


if __name__ == "__main__":
    main()
