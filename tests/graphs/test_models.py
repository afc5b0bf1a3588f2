"""Every registry model: end-point shapes, reproducible builds, forward passes, tied weights."""

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.data.datasets import N_CLASSES, N_FEATURES
from cadl_graph.golden import listing
from cadl_graph.graphs import registry
from cadl_graph.training.session import load_dataset


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


@pytest.mark.parametrize("name", ["vae", "conv_vae", "denoising_autoencoder"])
def test_vae_family_shapes(name):
    model = registry.build_in_new_graph(name)
    h = model.hparams
    # The code is the sampled z when variational, else the last encoder layer's output.
    z = [None, h["n_code"] if h["variational"] else h["n_filters"][-1]]
    side = int(np.sqrt(N_FEATURES))
    y = [None, side, side, 1] if h["convolutional"] else [None, N_FEATURES]
    assert _shape(model.z) == z and _shape(model.y) == y
    assert _shape(model.x) == [None, N_FEATURES] and model.x.op.name == "x"
    assert {k: p.op.name for k, p in model.placeholders.items()} == {
        "phase_train": "phase_train", "keep_prob": "keep_prob", "corrupt_prob": "Placeholder"}
    assert set(model.eval_feed) == set(model.placeholders.values())
    # The course declared phase_train and keep_prob without a shape.
    assert model.placeholders["phase_train"].shape.rank is None
    assert model.placeholders["keep_prob"].shape.rank is None


@pytest.mark.parametrize("name", ["linear_classifier", "conv_classifier", "lecture_sequence"])
def test_classifier_shapes(name):
    model = registry.build_in_new_graph(name)
    assert _shape(model.y) == [None, 10] and _shape(model.labels) == [None, 10]
    assert _shape(model.accuracy) == [] and _shape(model.cost) == []


def test_conv_classifier_end_points_and_weights():
    model = registry.build_in_new_graph("conv_classifier")
    assert {k: _shape(v) for k, v in model.end_points.items()} == {
        "h_1": [None, 14, 14, 32], "h_2": [None, 7, 7, 64], "h_2_flat": [None, 3136],
        "h_3": [None, 128]}
    assert {k: (v.op.name, _shape(v)) for k, v in model.weights.items()} == {
        "W_1": ("W", [5, 5, 1, 32]), "W_2": ("W2", [5, 5, 32, 64])}


@pytest.mark.parametrize("name", registry.NAMES)
def test_end_points_are_forward_tensors_only(name):
    """slim's meaning: named tensors of the forward pass, no variables, placeholders or ops."""
    model = registry.build_in_new_graph(name)
    assert model.end_points
    for key, tensor in model.end_points.items():
        assert isinstance(tensor, tf.Tensor), key
        assert tensor.op.type not in ("VariableV2", "Placeholder"), key


@pytest.mark.parametrize("name", registry.NAMES)
def test_building_twice_gives_the_same_graph(name):
    first = listing.op_lines(registry.build_in_new_graph(name).graph)
    second = listing.op_lines(registry.build_in_new_graph(name).graph)
    assert first == second


def _feed(model, batch, train):
    feed = {model.x: batch, **(model.train_feed if train else model.eval_feed)}
    if model.labels is not None:
        feed[model.labels] = np.eye(N_CLASSES, dtype=np.float32)[np.arange(len(batch)) % N_CLASSES]
    return feed


@pytest.fixture(scope="module")
def mnist_batch():
    """32 real training images and their one-hot labels."""
    ds = load_dataset("linear_classifier", seed=0)
    return ds.train.images[:32], ds.train.labels[:32]


@pytest.mark.parametrize("name", registry.NAMES)
def test_training_steps_change_every_weight_and_lower_the_cost(name, mnist_batch):
    """Adam on one fixed batch: every variable the cost depends on moves, and the cost falls."""
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)
        model = registry.build(name)
        variables = graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)
        # lecture_sequence also holds the autoencoder, which its classifier's Adam never trains.
        trainable = [v for v, g in zip(variables, tf.gradients(model.cost, variables))
                     if g is not None]
    batch, labels = mnist_batch
    feed = {**_feed(model, batch, train=True),
            **({model.labels: labels} if model.labels is not None else {})}

    def cost(sess):  # averaged: the VAEs sample their code, the denoiser its mask
        return np.mean([sess.run(model.cost, feed) for _ in range(5)])
    with tf.Session(graph=graph) as sess:
        sess.run(model.init_op)
        y = sess.run(model.y, _feed(model, batch, train=False))
        weights_before, cost_before = sess.run(trainable), cost(sess)
        for _ in range(20):
            sess.run(model.train_op, feed)
        weights_after, cost_after = sess.run(trainable), cost(sess)
    assert y.shape[0] == len(batch) and np.isfinite(y).all()
    if model.labels is not None:
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    unchanged = [v.op.name for v, a, b in zip(trainable, weights_before, weights_after)
                 if np.array_equal(a, b)]
    assert unchanged == []
    assert cost_after < cost_before, (cost_before, cost_after)


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
    corrupt_prob = model.placeholders["corrupt_prob"]
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


def test_overrides_change_the_graph():
    model = registry.build_in_new_graph("fc_autoencoder", dimensions=[32, 8])
    assert _shape(model.z) == [None, 8] and model.hparams["dimensions"] == [32, 8]
