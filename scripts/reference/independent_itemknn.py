#!/usr/bin/env python3
"""An independent ItemKNN computation (RecBole's ItemKNN: cosine with shrink, k neighbours per item), to check
Tandem's `--model itemknn`.

Reads train.tsv, valid.tsv, test.tsv (as `tandem data split` writes them), computes s(l, i) = c_li / (|x_l| |x_i| +
shrink + 1e-6) between item columns without self-similarity, keeps each item's k most similar items, scores X W,
removes each user's train and valid items, and prints the test metrics averaged over users with test items.
NumPy only: shares no code with Tandem.

    python3 scripts/reference/independent_itemknn.py DIR K SHRINK [CUTOFF ...]
"""
import sys

import numpy as np

from independent_common import item_item_evaluation, load_split, print_metrics


def main():
    d, k, shrink = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    ks = [int(c) for c in sys.argv[4:]] or [10, 20]

    def weights(x):
        c = x.T @ x
        norms = np.sqrt(np.diag(c))
        s = c / (norms[:, None] * norms[None, :] + shrink + 1e-6)
        np.fill_diagonal(s, -np.inf)
        w = np.zeros_like(s)
        for i in range(s.shape[1]):
            col = s[:, i]
            keep = np.lexsort((np.arange(len(col)), -col))[: min(k, s.shape[1] - 1)]
            w[keep, i] = col[keep]
        return w

    print_metrics(item_item_evaluation(*load_split(d), ks, weights))


if __name__ == "__main__":
    main()
