"""Shared by the independent reference scripts (independent_pop.py, independent_ease.py, independent_itemknn.py):
reading the split files `tandem data split` writes, and the ranking metrics. Pure Python: shares no code with Tandem."""
import math
from collections import defaultdict


def read(path):
    """(user, item) pairs of a TSV with a header naming user_id and item_id."""
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        u, i = header.index("user_id"), header.index("item_id")
        return [(row[u], row[i]) for row in (line.rstrip("\n").split("\t") for line in f) if len(row) > 1]


def load_split(d):
    """train, valid, test pairs of a split directory."""
    return tuple(read(f"{d}/{n}.tsv") for n in ("train", "valid", "test"))


def metrics(top_of, truth, ks):
    """Recall/Precision/Hit/MRR/NDCG@K averaged over the users of `truth` (user -> set of test items); `top_of(u)` is
    the user's ranked list (at least max(ks) long, known items already removed)."""
    sums = defaultdict(float)
    for u, rel in truth.items():
        top = top_of(u)
        for k in ks:
            hits = [r for r, i in enumerate(top[:k], 1) if i in rel]
            sums[f"recall@{k}"] += len(hits) / len(rel)
            sums[f"precision@{k}"] += len(hits) / k
            sums[f"hit@{k}"] += 1.0 if hits else 0.0
            sums[f"mrr@{k}"] += 1.0 / hits[0] if hits else 0.0
            dcg = sum(1 / math.log2(r + 1) for r in hits)
            idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(rel), k) + 1))
            sums[f"ndcg@{k}"] += dcg / idcg
    return {name: total / len(truth) for name, total in sums.items()}


def print_metrics(values):
    for name in sorted(values):
        print(f"{name}\t{values[name]:.4f}")


def score_evaluation(train, valid, test, ks, scores_from):
    """Builds the 0/1 training matrix X over users and items in sorted id order, asks `scores_from(X)` for a users ×
    items score matrix, and ranks each user's scores without their train and valid items (ties to the lower item
    index). NumPy."""
    import numpy as np

    users = sorted({u for u, _ in train + valid + test})
    items = sorted({i for _, i in train + valid + test})
    uix, iix = {u: k for k, u in enumerate(users)}, {i: k for k, i in enumerate(items)}
    x = np.zeros((len(users), len(items)))
    for u, i in train:
        x[uix[u], iix[i]] = 1.0
    scores = scores_from(x)
    seen, truth = defaultdict(set), defaultdict(set)
    for u, i in train + valid:
        seen[uix[u]].add(iix[i])
    for u, i in test:
        truth[uix[u]].add(iix[i])

    def top_of(u):
        row = scores[u].copy()
        row[list(seen[u])] = -np.inf
        return list(np.lexsort((np.arange(len(row)), -row))[: max(ks)])

    return metrics(top_of, truth, ks)


def item_item_evaluation(train, valid, test, ks, weights_from):
    """`score_evaluation` of a model that scores X W (EASE, ItemKNN): `weights_from(X)` gives W."""
    return score_evaluation(train, valid, test, ks, lambda x: x @ weights_from(x))
