"""Every registry model: end-point shapes, reproducible builds, forward passes, tied weights."""

import numpy as np
import pytest

from cadl_graph import golden, registry
from cadl_graph.compat import tf


def _shape(t):
    return t.shape.as_list()


def test_conv_autoencoder_end_points():
    model = registry.build_in_new_graph("conv_autoencoder")
    shapes = {k: _shape(v) for k, v in model.end_points.items()}
    assert shapes == {
        "encoder/layer/0": [None, 14, 14, 16], "encoder/layer/1": [None, 7, 7, 16],
        "encoder/layer/2": [None, 4, 4, 16], "decoder/layer/0": [None, 7, 7, 16],
        "decoder/layer/1": [None, 14, 14, 16], "decoder/layer/2": [None, 28, 28, 1]}
    assert model.z is model.end_points["encoder/layer/2"]
    assert _shape(model.x) == [None, 784] and _shape(model.y) == [None, 784]


def test_fc_autoencoder_end_points():
    model = registry.build_in_new_graph("fc_autoencoder")
    assert [_shape(v)[1] for v in model.end_points.values()] == [512, 256, 128, 64,
                                                                  128, 256, 512, 784]
    assert _shape(model.z) == [None, 64] and model.y.op.name == "decoder/layer/3/Relu"


@pytest.mark.parametrize("name, z, y", [
    ("vae", [None, 2], [None, 784]),
    ("conv_vae", [None, 2], [None, 28, 28, 1]),
    ("denoising_autoencoder", [None, 256], [None, 784]),
])
def test_vae_family_shapes(name, z, y):
    model = registry.build_in_new_graph(name)
    assert _shape(model.z) == z and _shape(model.y) == y and _shape(model.x) == [None, 784]
    assert model.x.op.name == "x"
    assert {p.op.name for p in model.eval_feed} == {"phase_train", "keep_prob", "Placeholder"}


@pytest.mark.parametrize("name", ["linear_classifier", "conv_classifier", "lecture_sequence"])
def test_classifier_shapes(name):
    model = registry.build_in_new_graph(name)
    assert _shape(model.y) == [None, 10] and _shape(model.labels) == [None, 10]
    assert _shape(model.accuracy) == [] and _shape(model.cost) == []


def test_conv_classifier_end_points():
    points = registry.build_in_new_graph("conv_classifier").end_points
    assert _shape(points["h_1"]) == [None, 14, 14, 32]
    assert _shape(points["h_2"]) == [None, 7, 7, 64]
    assert _shape(points["h_2_flat"]) == [None, 3136] and _shape(points["h_3"]) == [None, 128]
    assert points["W_1"].op.name == "W" and points["W_2"].op.name == "W2"


@pytest.mark.parametrize("name", registry.NAMES)
def test_building_twice_gives_the_same_graph(name):
    first = golden.op_lines(registry.build_in_new_graph(name).graph)
    second = golden.op_lines(registry.build_in_new_graph(name).graph)
    assert first == second


def _feed(model, batch, train):
    feed = {model.x: batch, **(model.train_feed if train else model.eval_feed)}
    if model.labels is not None:
        feed[model.labels] = np.eye(10, dtype=np.float32)[np.arange(len(batch)) % 10]
    return feed


@pytest.mark.parametrize("name", registry.NAMES)
def test_forward_pass_and_one_training_step(name):
    model = registry.build_in_new_graph(name)
    batch = np.random.default_rng(0).uniform(0, 1, (8, 784)).astype(np.float32)
    with tf.Session(graph=model.graph) as sess:
        sess.run(model.init_op)
        y, cost = sess.run([model.y, model.cost], _feed(model, batch, train=False))
        sess.run(model.train_op, _feed(model, batch, train=True))
        after = sess.run(model.cost, _feed(model, batch, train=False))
    assert y.shape[0] == 8 and np.prod(y.shape[1:]) in (784, 10)
    assert np.isfinite(y).all() and np.isfinite(cost) and np.isfinite(after)
    if model.labels is not None:
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ["fc_autoencoder", "conv_autoencoder"])
def test_tied_autoencoders_share_the_encoder_weights(name):
    model = registry.build_in_new_graph(name)
    g = model.graph
    weights = [v.op.name for v in g.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)]
    assert weights and all(w.startswith("encoder/") for w in weights)
    batch = np.random.default_rng(1).uniform(0, 1, (4, 784)).astype(np.float32)
    W0 = g.get_tensor_by_name("encoder/layer/0/W:0")
    with tf.Session(graph=g) as sess:
        sess.run(model.init_op)
        before = sess.run(model.y, {model.x: batch})
        with g.as_default():
            sess.run(tf.assign(W0, W0 * 2.0))
        after = sess.run(model.y, {model.x: batch})
    assert not np.allclose(before, after)


def test_vae_decoders_have_their_own_weights():
    g = registry.build_in_new_graph("vae").graph
    names = [v.op.name for v in g.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)]
    assert "decoder/0/fc/W" in names and "encoder/0/fc/W" in names
    assert "variational/mu/W" in names and "variational/log_sigma/W" in names


def test_z_can_be_fed_to_decode():
    model = registry.build_in_new_graph("vae")
    with tf.Session(graph=model.graph) as sess:
        sess.run(model.init_op)
        grid = np.array([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]], np.float32)
        y = sess.run(model.y, {model.z: grid, **model.eval_feed})
    assert y.shape == (3, 784) and ((y >= 0) & (y <= 1)).all()  # sigmoid output


def test_denoising_corrupt_prob_means_share_corrupted():
    model = registry.build_in_new_graph("denoising_autoencoder")
    corrupt_prob = next(p for p in model.eval_feed if p.op.name == "Placeholder")
    batch = np.random.default_rng(2).uniform(0.5, 1, (16, 784)).astype(np.float32)
    with tf.Session(graph=model.graph) as sess:
        sess.run(model.init_op)
        # Batch statistics (training mode) so that the output depends on the input alone.
        feed = {model.x: batch, **model.train_feed}
        clean = [sess.run(model.z, {**feed, corrupt_prob: [0.0]}) for _ in range(2)]
        noisy = [sess.run(model.z, {**feed, corrupt_prob: [1.0]}) for _ in range(2)]
    # Clean input is deterministic; masking noise draws a new mask every run.
    np.testing.assert_allclose(clean[0], clean[1], rtol=1e-5)
    assert np.abs(noisy[0] - noisy[1]).max() > 1e-2


def test_registry_rejects_unknown_names_and_hyperparameters():
    with pytest.raises(ValueError, match="known models: fc_autoencoder"):
        registry.get("resnet")
    with pytest.raises(ValueError, match="no hyperparameter depth"):
        registry.hparams("vae", depth=3)
    assert registry.hparams("vae", learning_rate=0.01)["learning_rate"] == 0.01


def test_overrides_change_the_graph():
    model = registry.build_in_new_graph("fc_autoencoder", dimensions=[32, 8])
    assert _shape(model.z) == [None, 8] and model.hparams["dimensions"] == [32, 8]
