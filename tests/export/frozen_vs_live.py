"""Compares frozen exports with the live graphs they came from, in a process of its own.

Run by tests/export/test_export.py with TF_ENABLE_ONEDNN_OPTS=0: oneDNN multiplies by constant
weights (frozen) with another blocking than by variables (live), so with it the two agree only
to float32 rounding, which a barely trained batch norm amplifies. Without it they must agree
exactly. Reads JSON cases [{train_dir, graph, part}] on stdin, writes max abs differences.

"Live" is the checkpoint restored into the project's scoring graph (`scoring.Scorer`): for the
VAE family that is the repaired batch norm, because the course's graph moves its averages (and
races with their reads) on every inference run, while the export reads them as constants.
"""

import json
import sys
from pathlib import Path

import numpy as np

from cadl_graph import graphfile
from cadl_graph.export import predict
from cadl_graph.training import checkpoints
from cadl_graph.training.scoring import Scorer


def live(train_dir, feeds_fn, fetch_fn):
    """Runs the checkpoint in train_dir once, restored into the model's scoring graph."""
    run = json.loads((Path(train_dir) / "run.json").read_text())
    scorer = Scorer(run["model"], run["hparams"], seed=run["seed"])
    model = scorer.model
    with scorer.from_checkpoint(checkpoints.resolve(train_dir)) as sess:
        return sess.run(fetch_fn(model), {**model.eval_feed, **feeds_fn(model)})


def difference(case, images):
    train_dir, part = Path(case["train_dir"]), case["part"]
    graph_def = graphfile.load_graph_def(case["graph"])
    mean_file = train_dir / "input_mean.npy"
    mean = np.load(mean_file) if mean_file.exists() else 0.0
    if part == "decoder":
        codes = np.asarray(case["codes"], np.float32)
        frozen = predict.run_graph(graph_def, codes, input_name="Z")
        expected = live(train_dir, lambda m: {m.z: codes}, lambda m: m.y)
    elif part == "encoder":
        frozen = predict.run_graph(graph_def, images, output_name="Z")
        expected = live(train_dir, lambda m: {m.x: images - mean},
                        lambda m: m.end_points.get("z_mu", m.z))
    else:
        frozen = predict.run_graph(graph_def, images)
        expected = live(train_dir, lambda m: {m.x: images - mean}, lambda m: m.y) + mean
    return float(np.abs(frozen - expected).max())


def main():
    request = json.load(sys.stdin)
    images = np.load(request["images"])
    json.dump([difference(case, images) for case in request["cases"]], sys.stdout)


if __name__ == "__main__":
    main()
