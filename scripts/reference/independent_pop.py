#!/usr/bin/env python3
"""An independent Pop computation, to check Tandem's evaluation protocol.

Reads train.tsv, valid.tsv, test.tsv (header user_id, item_id; as `tandem data split` writes them), ranks items by
training count for every user, removes the user's train and valid items, and prints Recall/NDCG/MRR/Hit/Precision@K
averaged over users with test items. Pure Python: shares no code with Tandem.

    python3 scripts/reference/independent_pop.py DIR [K ...]
"""
import sys
from collections import Counter, defaultdict

from independent_common import load_split, metrics, print_metrics


def main():
    d = sys.argv[1]
    ks = [int(k) for k in sys.argv[2:]] or [10, 20]
    train, valid, test = load_split(d)
    items, seen_items = [], set()
    for _, i in train + valid + test:
        if i not in seen_items:
            seen_items.add(i)
            items.append(i)
    counts = Counter(i for _, i in train)
    # Most popular first; ties broken arbitrarily (by first appearance here), so only tie order can differ.
    ranked = sorted(items, key=lambda i: -counts[i])
    seen, truth = defaultdict(set), defaultdict(set)
    for u, i in train + valid:
        seen[u].add(i)
    for u, i in test:
        truth[u].add(i)

    def top_of(u):
        out = []
        for i in ranked:
            if i not in seen[u]:
                out.append(i)
                if len(out) == max(ks):
                    break
        return out

    print_metrics(metrics(top_of, truth, ks))


if __name__ == "__main__":
    main()
