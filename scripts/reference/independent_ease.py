#!/usr/bin/env python3
"""An independent EASE computation (Steck 2019), to check Tandem's `--model ease`.

Reads train.tsv, valid.tsv, test.tsv (header user_id, item_id; as `tandem data split` writes them), builds the
training matrix X, computes B = I - P diag(1/diag P) with P = (X^T X + lambda I)^-1 and diag(B) = 0 by numpy's dense
inverse, scores X B, removes each user's train and valid items, and prints Recall/NDCG/MRR/Hit/Precision@K on the test
split averaged over users with test items. NumPy only: shares no code with Tandem.

    python3 scripts/reference/independent_ease.py DIR LAMBDA [K ...]
"""
import sys

import numpy as np

from independent_common import item_item_evaluation, load_split, print_metrics


def main():
    d, lam = sys.argv[1], float(sys.argv[2])
    ks = [int(k) for k in sys.argv[3:]] or [10, 20]

    def weights(x):
        p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        return b

    print_metrics(item_item_evaluation(*load_split(d), ks, weights))


if __name__ == "__main__":
    main()
