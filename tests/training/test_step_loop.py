"""--steps_per_run=K: K training steps per Session.run give the default loop's weights."""

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.data.datasets import Dataset
from cadl_graph.errors import ConfigError
from cadl_graph.training import checkpoints, cluster
from cadl_graph.training.loop import train
from cadl_graph.training.session import TrainConfig, load_dataset

# 500 training images in batches of 30: 17 steps an epoch, the last one of 20 images.
BATCH, EPOCHS, SAVE_EVERY = 30, 2, 7


@pytest.fixture(scope="module")
def small_ds():
    ds = load_dataset("linear_classifier", seed=0)
    return Dataset(ds.X[:600], ds.Y[:600].argmax(axis=1), split=[5 / 6, 1 / 12, 1 / 12],
                   one_hot=True, n_classes=10, seed=0)


def _train(name, ds, folder, steps_per_run, max_steps=None):
    return train(TrainConfig(model=name, train_dir=str(folder), batch_size=BATCH,
                             epochs=EPOCHS, max_steps=max_steps, save_every_steps=SAVE_EVERY,
                             steps_per_run=steps_per_run, pictures=False),
                 ds=ds, out=lambda *_: None)


def _weights(folder):
    reader = tf.train.load_checkpoint(checkpoints.latest(folder))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


# A classifier, a model fed x - mean_img, and the VAE family's random draws and batch norms.
@pytest.mark.parametrize("name", ["linear_classifier", "fc_autoencoder", "vae",
                                  "denoising_autoencoder"])
def test_ten_steps_per_run_train_the_weights_of_one_step_per_run(name, small_ds, tmp_path):
    one = _train(name, small_ds, tmp_path / "one", 1)
    ten = _train(name, small_ds, tmp_path / "ten", 10)
    assert one["steps"] == ten["steps"] == EPOCHS * 17
    expected = _weights(tmp_path / "one")
    got = _weights(tmp_path / "ten")
    assert expected.keys() == got.keys()
    differ = [n for n in expected if not np.array_equal(expected[n], got[n])]
    assert differ == [], f"not bit-identical: {differ}"
    assert ten["test"] == one["test"]
    assert ten["epochs"] == [dict(r, images_per_s=ten["epochs"][i]["images_per_s"])
                             for i, r in enumerate(one["epochs"])]
    # Every checkpoint step was saved (the runs end on them), as the default loop saves.
    assert [s for s, _ in checkpoints.on_disk(tmp_path / "ten")] == \
        [s for s, _ in checkpoints.on_disk(tmp_path / "one")]


def test_a_run_resumes_with_another_steps_per_run(small_ds, tmp_path):
    # A resumed session starts the random ops' streams afresh, so the reference is a run of
    # one step per run stopped at the same steps.
    name = "vae"
    for folder, per_run in (("one", (1, 1, 1)), ("mixed", (10, 1, 10))):
        for max_steps, k in zip((12, 23, None), per_run):  # stops mid-epoch, then at 23
            _train(name, small_ds, tmp_path / folder, k, max_steps=max_steps)
    expected, got = _weights(tmp_path / "one"), _weights(tmp_path / "mixed")
    assert int(got["global_step"]) == EPOCHS * 17
    assert all(np.array_equal(expected[n], got[n]) for n in expected)


def test_steps_per_run_must_be_positive_and_is_refused_in_a_cluster():
    with pytest.raises(ConfigError, match="steps_per_run must be an integer >= 1"):
        TrainConfig(model="linear_classifier", steps_per_run=0).resolved()
    task = cluster.Cluster(("localhost:1",), ("localhost:2",), "worker", 0)
    with pytest.raises(cluster.ClusterError, match="--steps_per_run=10: a cluster's workers "
                       "run one step per Session.run"):
        cluster.run_task(task, TrainConfig(model="linear_classifier", steps_per_run=10))
