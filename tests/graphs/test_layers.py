"""The course's layers: scopes, op names, shapes and behaviour."""

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.graphs import layers as utils
from cadl_graph.graphs.batch_norm import batch_norm


def _names(graph):
    return [op.name for op in graph.get_operations()]


def test_linear_names_and_shapes():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 6])
        h, W = utils.linear(x, 3, name="layer1", activation=tf.nn.softmax)
    assert W.name == "layer1/W:0" and W.shape.as_list() == [6, 3]
    assert h.op.name == "layer1/Softmax" and h.shape.as_list() == [None, 3]
    names = _names(g)
    assert names.index("layer1/b") < names.index("layer1/MatMul") < names.index("layer1/h")


def test_linear_flattens_4d_input_and_defaults_to_scope_fc():
    with tf.Graph().as_default() as g:
        h, W = utils.linear(tf.placeholder(tf.float32, [None, 2, 2, 3]), 5)
    assert W.name == "fc/W:0" and W.shape.as_list() == [12, 5]
    assert "flatten/Reshape" in _names(g) and h.op.name == "fc/h"


def test_conv2d_and_deconv2d_round_trip_shapes():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 28, 28, 1])
        h, W = utils.conv2d(x, 16, k_h=4, k_w=4)
        y, W_t = utils.deconv2d(h, 28, 28, 1, k_h=4, k_w=4)
    assert h.shape.as_list() == [None, 14, 14, 16] and W.shape.as_list() == [4, 4, 1, 16]
    assert y.shape.as_list() == [None, 28, 28, 1] and W_t.shape.as_list() == [4, 4, 1, 16]
    names = _names(g)
    assert {"conv2d/conv", "conv2d/h", "deconv2d/conv_t", "deconv2d/h"} <= set(names)
    assert g.get_operation_by_name("deconv2d/conv_t").type == "Conv2DBackpropInput"
    with tf.Session(graph=g) as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(y, {x: np.ones((3, 28, 28, 1), np.float32)})
    assert out.shape == (3, 28, 28, 1)


def test_flatten_and_to_tensor():
    with tf.Graph().as_default():
        assert utils.flatten(tf.zeros([2, 3, 4, 5])).shape.as_list() == [2, 60]
        flat = tf.zeros([2, 7])
        assert utils.flatten(flat) is flat
        with pytest.raises(ValueError, match="1, 2 or 4"):
            utils.flatten(tf.zeros([2, 3, 4]))
        assert utils.to_tensor(tf.zeros([2, 784])).shape.as_list() == [2, 28, 28, 1]
        assert utils.to_tensor(tf.zeros([2, 12])).shape.as_list() == [2, 2, 2, 3]
        assert utils.to_tensor(tf.zeros([2, 10])).shape.as_list() == [2, 1, 1, 10]
    with tf.Graph().as_default():
        assert utils.to_tensor(tf.zeros([2, 784])).op.name == "reshape"


def test_corrupt_zeroes_about_half():
    with tf.Graph().as_default(), tf.Session() as sess:
        out = sess.run(utils.corrupt(tf.ones([100, 100])))
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert 0.45 < out.mean() < 0.55


def test_repaired_batch_norm_uses_batch_statistics_when_training_and_averages_otherwise():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 4])
        phase_train = tf.placeholder(tf.bool, [])
        y = batch_norm(x, phase_train, "bn0", update="in_cond")
        averages = [v for v in tf.global_variables() if "ExponentialMovingAverage" in v.name]
        data = np.random.default_rng(0).normal(5.0, 2.0, (64, 4)).astype(np.float32)
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            trained = sess.run(y, {x: data, phase_train: True})
            np.testing.assert_allclose(trained.mean(axis=0), 0.0, atol=1e-4)
            np.testing.assert_allclose(trained.std(axis=0), 1.0, atol=1e-2)
            # Decay 0.99: one update moves each average 1% of the way from 0.
            mean, var = sess.run(averages)
            np.testing.assert_allclose(mean, 0.01 * data.mean(axis=0), rtol=1e-4)
            np.testing.assert_allclose(var, 0.01 * data.var(axis=0), rtol=1e-3)
            # Inference normalises by the running averages and leaves them as they were (the
            # course's version updates them here too, racing with the read: test_batch_norm.py).
            for _ in range(3):
                inferred = sess.run(y, {x: data, phase_train: False})
                np.testing.assert_allclose(inferred, (data - mean) / np.sqrt(var + 1e-5),
                                           rtol=1e-4)
            np.testing.assert_array_equal(sess.run(averages)[0], mean)
    names = _names(g)
    assert "bn0/beta" in names and "bn0/gamma" in names
    assert any(op.type == "Switch" for op in g.get_operations())  # a v1 tf.cond
