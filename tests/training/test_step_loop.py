"""--steps_per_run=K: K training steps per Session.run give the default loop's weights; --xla
compiles them."""

import contextlib

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.data.datasets import Dataset
from cadl_graph.errors import ConfigError
from cadl_graph.training import checkpoints, cluster, loop, step_loop
from cadl_graph.training.loop import train
from cadl_graph.training.session import TrainConfig, load_dataset

# 500 training images in batches of 30: 17 steps an epoch, the last one of 20 images.
BATCH, EPOCHS, SAVE_EVERY = 30, 2, 7


@pytest.fixture(scope="module")
def small_ds():
    ds = load_dataset("linear_classifier", seed=0)
    return Dataset(ds.X[:600], ds.Y[:600].argmax(axis=1), split=[5 / 6, 1 / 12, 1 / 12],
                   one_hot=True, n_classes=10, seed=0)


def _config(name, folder, steps_per_run, max_steps=None, xla=False):
    return TrainConfig(model=name, train_dir=str(folder), batch_size=BATCH, epochs=EPOCHS,
                       max_steps=max_steps, save_every_steps=SAVE_EVERY,
                       steps_per_run=steps_per_run, xla=xla, pictures=False)


def _train(name, ds, folder, steps_per_run, max_steps=None, xla=False, out=lambda *_: None):
    return train(_config(name, folder, steps_per_run, max_steps, xla), ds=ds, out=out)


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


def _compiled_op_names(graph):
    names = []
    for op in graph.get_operations():
        try:
            if op.get_attr("_XlaCompile"):
                names.append(op.name)
        except ValueError:  # no such attribute
            pass
    return names


def test_xla_compiles_the_loops_step_and_trains_to_the_metric_of_the_course_loop(small_ds,
                                                                                 tmp_path):
    name = "fc_autoencoder"
    plain = loop.training_graph(_config(name, tmp_path / "g", 10))
    marked = loop.training_graph(_config(name, tmp_path / "g", 10, xla=True))
    assert _compiled_op_names(plain) == []
    compiled = _compiled_op_names(marked)
    assert compiled and all(n.startswith(f"{step_loop.SCOPE}/while/") for n in compiled)
    assert [op.name for op in plain.get_operations()] == \
        [op.name for op in marked.get_operations()]  # the same ops: the same golden

    said = []
    one = _train(name, small_ds, tmp_path / "one", 1)
    xla = _train(name, small_ds, tmp_path / "xla", 10, xla=True, out=said.append)
    _train(name, small_ds, tmp_path / "again", 10, xla=True)
    # The trainer traces its first run and says when no XLA program ran in it.
    assert not [line for line in said if line.startswith("--xla")], said
    assert xla["steps"] == one["steps"] == EPOCHS * 17
    # Fused arithmetic rounds differently: close to the course loop's, not equal; but one
    # compiled program gives the same weights every time.
    assert xla["test"] == pytest.approx(one["test"], rel=1e-3)
    expected, got = _weights(tmp_path / "one"), _weights(tmp_path / "xla")
    assert all(np.allclose(expected[n], got[n], atol=1e-4) for n in expected)
    repeated = _weights(tmp_path / "again")
    assert all(np.array_equal(got[n], repeated[n]) for n in got)


@pytest.mark.parametrize("xla", [False, True])
def test_a_traced_run_tells_whether_xla_ran_a_program(xla):
    graph = tf.Graph()
    with graph.as_default(), \
            (tf.xla.experimental.jit_scope() if xla else contextlib.nullcontext()):
        x = tf.placeholder(tf.float32, [4, 4])
        y = tf.nn.relu(tf.matmul(x, x) + 1.0)
    with tf.Session(graph=graph) as sess:
        metadata = tf.RunMetadata()
        sess.run(y, {x: np.eye(4)}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                 run_metadata=metadata)
    assert (step_loop.compiled_ops(metadata) > 0) == xla


def test_steps_per_run_must_be_positive_and_is_refused_in_a_cluster():
    with pytest.raises(ConfigError, match="steps_per_run must be an integer >= 1"):
        TrainConfig(model="linear_classifier", steps_per_run=0).resolved()
    task = cluster.Cluster(("localhost:1",), ("localhost:2",), "worker", 0)
    for config, flags in ((dict(steps_per_run=10), "--steps_per_run=10"),
                          (dict(xla=True), "--steps_per_run=1 --xla")):
        with pytest.raises(cluster.ClusterError, match=f"{flags}: a cluster's workers run "
                           "the course's step"):
            cluster.run_task(task, TrainConfig(model="linear_classifier", **config))
