#!/usr/bin/env python3
"""An independent Pop computation, to check Tandem's evaluation protocol.

Reads train.tsv, valid.tsv, test.tsv (header user_id, item_id; as `tandem data split` writes them), ranks items by
training count for every user, removes the user's train and valid items, and prints Recall/NDCG/MRR/Hit/Precision@K
averaged over users with test items. Pure Python: shares no code with Tandem.

    python3 scripts/independent_pop.py DIR [K ...]
"""
import math
import sys
from collections import Counter, defaultdict


def read(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        u, i = header.index("user_id"), header.index("item_id")
        return [(row[u], row[i]) for row in (line.rstrip("\n").split("\t") for line in f) if len(row) > 1]


def main():
    d = sys.argv[1]
    ks = [int(k) for k in sys.argv[2:]] or [10, 20]
    train, valid, test = (read(f"{d}/{n}.tsv") for n in ("train", "valid", "test"))
    items = []
    for _, i in train + valid + test:
        if i not in items_seen:
            items_seen.add(i)
            items.append(i)
    counts = Counter(i for _, i in train)
    # Most popular first; ties broken arbitrarily (by first appearance here), so only tie order can differ.
    ranked = sorted(items, key=lambda i: -counts[i])
    seen, truth = defaultdict(set), defaultdict(set)
    for u, i in train + valid:
        seen[u].add(i)
    for u, i in test:
        truth[u].add(i)
    sums = defaultdict(float)
    for u, rel in truth.items():
        top = []
        for i in ranked:
            if i not in seen[u]:
                top.append(i)
                if len(top) == max(ks):
                    break
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


items_seen = set()
if __name__ == "__main__":
    main()
