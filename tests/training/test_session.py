"""What one process and a cluster's workers share: the resolved run, its steps, its record."""

import json

import numpy as np
import pytest

from cadl_graph.data.datasets import Dataset
from cadl_graph.errors import ConfigError
from cadl_graph.graphs.hparam_types import HparamError
from cadl_graph.training import rundir, session


@pytest.fixture(scope="module")
def tiny():
    """1000 random images with labels: 800 train, 100 valid, 100 test."""
    rng = np.random.default_rng(0)
    return Dataset(rng.random((1000, 784), np.float32), rng.integers(0, 10, 1000),
                   split=[0.8, 0.1, 0.1], one_hot=True, n_classes=10, seed=0)


def test_prepare_fills_in_the_lecture_recipe_and_counts_the_steps(tiny, tmp_path):
    run = session.prepare(session.TrainConfig(model="linear_classifier",
                                              train_dir=str(tmp_path)), tiny)
    assert (run.config.epochs, run.config.batch_size) == (5, 50)
    assert run.steps_per_epoch == 16 and run.total_steps == 80
    assert run.mean_img is None
    capped = session.prepare(session.TrainConfig(model="linear_classifier", max_steps=7), tiny)
    assert capped.total_steps == 7 and capped.config.train_dir == "runs/train/linear_classifier"


def test_a_tied_autoencoders_run_claims_its_folder_with_the_mean(tiny, tmp_path):
    run = session.prepare(session.TrainConfig(model="fc_autoencoder", train_dir=str(tmp_path),
                                              batch_size=300), tiny)
    assert run.steps_per_epoch == 3  # the last batch is partial
    assert np.array_equal(run.mean_img, tiny.mean())
    run.claim(cluster={"workers": ["w:1"]})
    record = json.loads((tmp_path / rundir.RUN_FILE).read_text())
    assert record["model"] == "fc_autoencoder" and record["batch_size"] == 300
    assert record["cluster"] == {"workers": ["w:1"]} and record["split"] == [0.8, 0.1, 0.1]
    assert np.array_equal(rundir.load_mean(tmp_path), tiny.mean())


def test_the_final_line_names_the_metric_and_the_held_out_images(tiny):
    run = session.prepare(session.TrainConfig(model="conv_classifier"), tiny)
    assert run.final_line(0.9768571) == \
        "conv_classifier: test accuracy 0.976857 on 100 held-out images"
    vae = session.prepare(session.TrainConfig(model="vae"), tiny)
    assert vae.final_line(40.1, " (model.ckpt-9)") == \
        "vae: test cost 40.100000 on 100 held-out images (model.ckpt-9)"


@pytest.mark.parametrize("config, error, message", [
    (dict(epochs=-1), ConfigError, "epochs must be an integer >= 0"),
    (dict(batch_size=True), ConfigError, "batch_size must be an integer >= 1"),
    (dict(hparams={"learning_rate": -1}), HparamError, "learning_rate=-1"),
])
def test_bad_settings_are_refused_before_any_data_is_read(config, error, message):
    with pytest.raises(error, match=message):
        session.prepare(session.TrainConfig(model="linear_classifier", **config),
                        ds="never read")
