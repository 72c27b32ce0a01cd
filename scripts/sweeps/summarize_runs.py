#!/usr/bin/env python3
"""One markdown row per results directory (one `tandem compare --results-dir` run): test NDCG@20, Recall@20, tail
Recall@20 as mean ± sample std over the seeds' JSON files, the mean seconds per training epoch and the mean training
time of a run (for closed-form models, the fit with its search over λ or passes).
Usage: summarize_runs.py LABEL=DIR [LABEL=DIR ...]"""
import glob, json, statistics, sys


def mean_std(xs):
    if len(xs) < 2:
        return f"{xs[0]:.4f}" if xs else "-"
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}"


print("| run | seeds | test NDCG@20 | test Recall@20 | tail Recall@20 | valid NDCG@20 | s/epoch | epochs run | train s |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for arg in sys.argv[1:]:
    label, directory = arg.split("=", 1)
    runs = [json.load(open(f)) for f in sorted(glob.glob(f"{directory}/*.json"))]
    if not runs:
        print(f"| {label} | 0 | | | | | | | |")
        continue
    epochs = [e["seconds"] for r in runs for e in r.get("epochs", [])]
    cells = [mean_std([r["test"]["ndcg@20"] for r in runs]), mean_std([r["test"]["recall@20"] for r in runs]),
             mean_std([r["test"]["recall@20/tail"] for r in runs]), mean_std([r["valid"]["ndcg@20"] for r in runs]),
             f"{sum(epochs) / len(epochs):.2f}" if epochs else "-",
             "/".join(str(len(r.get("epochs", []))) for r in runs),
             f"{statistics.mean(r['train_seconds'] for r in runs):.0f}"]
    print(f"| {label} | {len(runs)} | " + " | ".join(cells) + " |")
