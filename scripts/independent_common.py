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
