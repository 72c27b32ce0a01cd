#!/usr/bin/env python3
"""Markdown table of a `scripts/sweeps/levers.sh` output directory: one row per lever (mean ± std over its runs' JSON).

Usage: python3 scripts/sweeps/lever_table.py OUT_DIR [LEVER ...]   (default: every lever directory, by name)
"""
import glob
import json
import os
import statistics
import sys


def cell(xs, digits=4):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def main():
    out = sys.argv[1]
    levers = sys.argv[2:] or sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)))
    print("| lever | runs | Recall@20 | NDCG@20 | head Recall@20 | tail Recall@20 | alignment | uniformity (items) | epoch s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for lever in levers:
        runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, lever, "*.json")))]
        if not runs:
            continue
        epoch_s = [e["seconds"] for r in runs for e in r["epochs"]]
        print(f"| {lever} | {len(runs)} | {cell([r['test']['recall@20'] for r in runs])} | {cell([r['test']['ndcg@20'] for r in runs])} "
              f"| {cell([r['test'].get('recall@20/head') for r in runs])} "
              f"| {cell([r['test'].get('recall@20/tail') for r in runs])} | {cell([r['geometry']['alignment'] for r in runs], 3)} "
              f"| {cell([r['geometry']['uniformity_items'] for r in runs], 3)} | {statistics.mean(epoch_s):.2f} |")


if __name__ == "__main__":
    main()
