"""Scores come from an inference copy of the graph: repeatable, and the model is left alone."""

import hashlib

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.data.datasets import Dataset
from cadl_graph.graphs import registry
from cadl_graph.training import rundir
from cadl_graph.training.loop import train
from cadl_graph.training.scoring import Scorer, evaluate
from cadl_graph.training.session import TrainConfig, load_dataset


@pytest.fixture(scope="module")
def ds():
    full = load_dataset("vae", seed=0)
    return Dataset(full.X[:1500], full.Y[:1500].argmax(axis=1), split=[0.6, 0.2, 0.2],
                   one_hot=True, n_classes=10, seed=0)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("name", ["vae", "denoising_autoencoder", "fc_autoencoder",
                                  "linear_classifier"])
def test_a_restored_checkpoint_scores_what_training_scored_and_stays_unchanged(name, ds,
                                                                               tmp_path):
    result = train(TrainConfig(model=name, train_dir=str(tmp_path), max_steps=20,
                               pictures=False), ds=ds, out=lambda *a: None)
    before = _digest(tmp_path)
    scores = []
    for _ in range(2):
        saved = rundir.open_run(tmp_path)
        with saved.restore() as (sess, feeder):
            scores.append(evaluate(sess, feeder, ds.test))
    assert scores[0] == scores[1]
    assert scores[0] == result["test"]  # what training reported, from the same weights
    assert _digest(tmp_path) == before


def test_scoring_leaves_the_training_session_alone(ds):
    """The course's graph, scored through a Scorer: no variable of the session moves."""
    with tf.Graph().as_default() as graph:
        model = registry.build("conv_vae")
        variables = graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
    scorer = Scorer("conv_vae")
    xs = ds.train.images[:64]
    with tf.Session(graph=graph) as sess:
        sess.run(model.init_op)
        for _ in range(3):  # move the averages away from their initial zeros
            sess.run(model.train_op, {model.x: xs, **model.train_feed})
        before = sess.run(variables)
        scores = []
        for _ in range(2):
            with scorer.from_session(sess, variables) as scoring:
                scores.append(evaluate(scoring, scorer.feeder(), ds.valid))
        after = sess.run(variables)
    assert scores[0] == scores[1]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_the_scorer_builds_the_repaired_batch_norm_for_the_vae_family():
    ops = {op.name for op in Scorer("vae").graph.get_operations()}
    assert "encoder/0/bn0/cond/ExponentialMovingAverage" in ops
    assert "encoder/0/bn0/ExponentialMovingAverage" not in ops
    # Models without batch norm are scored in their own graph.
    assert registry.inference_hparams("conv_classifier") == registry.hparams("conv_classifier")
