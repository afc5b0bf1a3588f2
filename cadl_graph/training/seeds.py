"""One model trained with several seeds: how much its held-out metric depends on the seed.

    from cadl_graph.training.seeds import train_seeds
    spread = train_seeds("conv_classifier", [0, 1, 2, 3, 4], "runs/seeds")

Each seed reshuffles the data split and redraws the initial weights; each run lives in
`<out_dir>/seed<N>` and resumes like any training run.
"""

from pathlib import Path

import numpy as np

from cadl_graph.training import kinds
from cadl_graph.training.loop import train
from cadl_graph.training.session import TrainConfig


def train_seeds(model, seeds, out_dir, epochs=None, data_dir=None, hparams=None, out=print):
    """Trains `model` once per seed in `<out_dir>/seed<N>`; prints and returns the spread.

    Returns:
      dict: results (one train() result per seed), values (the held-out metric per seed),
      min, median, max.
    """
    kind = kinds.of(model)
    results = []
    for seed in seeds:
        out(f"== {model}, seed {seed} ==")
        results.append(train(TrainConfig(model=model, seed=seed, epochs=epochs,
                                          train_dir=str(Path(out_dir) / f"seed{seed}"),
                                          data_dir=data_dir, pictures=False,
                                          hparams=hparams or {}), out=out))
    values = [r["test"] for r in results]
    metric = results[0]["test_metric"].replace("_", " ")
    out(f"\n{model} {metric} over seeds {', '.join(map(str, seeds))}:")
    for seed, r in zip(seeds, results):
        trace = ", ".join("n/a" if v is None else f"{v:.4f}"
                          for v in map(kind.epoch_value, r["epochs"]))
        out(f"  seed {seed}: {r['test']:.4f} (per epoch {kind.metric_name}: {trace})")
    summary = dict(min=min(values), median=float(np.median(values)), max=max(values))
    out(f"  min {summary['min']:.4f}, median {summary['median']:.4f}, max {summary['max']:.4f}")
    return dict(results=results, values=values, **summary)
