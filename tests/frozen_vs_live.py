"""Compares frozen exports with the live graphs they came from, in a process of its own.

Run by tests/test_export.py with TF_ENABLE_ONEDNN_OPTS=0: oneDNN multiplies by constant
weights (frozen) with another blocking than by variables (live), so with it the two agree only
to float32 rounding, which a barely trained batch norm amplifies. Without it they must agree
exactly. Reads JSON cases [{train_dir, graph, part}] on stdin, writes max abs differences.
"""

import json
import sys
from pathlib import Path

import numpy as np

from cadl_graph import checkpoints, registry, summarize
from cadl_graph.compat import tf


def live(train_dir, feeds_fn, fetch_fn):
    """Runs the registry graph restored from train_dir once, as training built it."""
    run = json.loads((Path(train_dir) / "run.json").read_text())
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(run["seed"])
        model = registry.build(run["model"], **run["hparams"])
        saver = tf.train.Saver()
    with tf.Session(graph=graph) as sess:
        checkpoints.restore(sess, saver, checkpoints.resolve(train_dir),
                            graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES))
        return sess.run(fetch_fn(model), {**model.eval_feed, **feeds_fn(model)})


def difference(case, images):
    train_dir, part = Path(case["train_dir"]), case["part"]
    graph_def = summarize.load_graph_def(case["graph"])
    mean_file = train_dir / "input_mean.npy"
    mean = np.load(mean_file) if mean_file.exists() else 0.0
    if part == "decoder":
        codes = np.asarray(case["codes"], np.float32)
        frozen = summarize.run(graph_def, codes, input_name="Z")
        expected = live(train_dir, lambda m: {m.z: codes}, lambda m: m.y)
    elif part == "encoder":
        frozen = summarize.run(graph_def, images, output_name="Z")
        expected = live(train_dir, lambda m: {m.x: images - mean},
                        lambda m: m.end_points.get("z_mu", m.z))
    else:
        frozen = summarize.run(graph_def, images)
        expected = live(train_dir, lambda m: {m.x: images - mean}, lambda m: m.y) + mean
    return float(np.abs(frozen - expected).max())


def main():
    request = json.load(sys.stdin)
    images = np.load(request["images"])
    json.dump([difference(case, images) for case in request["cases"]], sys.stdout)


if __name__ == "__main__":
    main()
