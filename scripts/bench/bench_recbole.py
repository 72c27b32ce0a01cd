"""Seconds per training epoch of RecBole 1.2.1 (CPU PyTorch) on ml-100k, for the side-by-side speed comparison.

Run by scripts/bench/bench_recbole.sh inside its own virtual environment; prints one line per model:
    recbole <label> <seconds per epoch> (median of N epochs after one warm-up epoch)
A model is named as RecBole names it, optionally with settings that override its defaults: `LightGCN:n_layers=3`
(label `LightGCN:n_layers=3`), so both sides can run the same number of propagation layers.
Only training epochs are timed (RecBole's own `_train_epoch`), not evaluation or data loading, with 64-d embeddings,
batch 2048 and torch on the given number of threads: the settings the graph issue quotes.
"""
import os
import statistics
import sys
import time

import torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_model, get_trainer, init_seed

threads = int(os.environ.get("THREADS", "2"))
epochs = int(os.environ.get("EPOCHS", "3"))
torch.set_num_threads(threads)
import recbole
data_path = os.path.join(os.path.dirname(recbole.__file__), "dataset_example")

def parse(spec):
    """`Model:key=value,key=value` → (model, {key: int/float/str value})."""
    name, _, rest = spec.partition(":")
    overrides = {}
    for pair in filter(None, rest.split(",")):
        key, _, value = pair.partition("=")
        for cast in (int, float, str):
            try:
                overrides[key] = cast(value)
                break
            except ValueError:
                pass
    return name, overrides


for spec in sys.argv[1:] or ["BPR", "LightGCN", "SGL"]:
    model_name, overrides = parse(spec)
    config = Config(model=model_name, dataset="ml-100k", config_dict={**overrides,
        "data_path": data_path, "embedding_size": 64, "train_batch_size": 2048, "epochs": epochs + 1,
        "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "RO", "group_by": "user", "mode": "full"},
        "worker": 0, "show_progress": False, "device": "cpu", "use_gpu": False, "seed": 2020, "reproducibility": True,
        "state": "WARNING",
    })
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, _, _ = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    times = []
    for epoch in range(epochs + 1):
        if hasattr(model, "graph_construction"):  # SGL rebuilds its two augmented graphs every epoch, inside `fit`
            model.train(); model.graph_construction()
        t0 = time.perf_counter()
        trainer._train_epoch(train_data, epoch, show_progress=False)
        if epoch > 0:
            times.append(time.perf_counter() - t0)
    print(f"recbole {spec} {statistics.median(times):.3f}", flush=True)
