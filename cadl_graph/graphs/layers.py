"""The course's layers (its `libs/utils.py`), with the course's scopes and op names.

    from cadl_graph.graphs.layers import linear, conv2d, deconv2d, flatten, to_tensor, corrupt

(The course's montage helpers live with the other pictures, in `cadl_graph.viz.images`.)

Each layer opens a variable scope named as the course named it and creates its ops in the
course's order, so `get_tensor_by_name('layer1/W:0')` and friends work as in the lecture.
Weights are glorot-uniform (the course's `xavier_initializer`), biases start at zero. Shapes
below are static shapes; `?` is the batch dimension.
"""

import numpy as np

from cadl_graph.compat import tf

__all__ = ["linear", "conv2d", "deconv2d", "flatten", "to_tensor", "corrupt"]


def linear(x, n_output, name=None, activation=None, reuse=None):
    """Fully connected layer `activation(x @ W + b)` in variable scope `name` (default "fc").

    Ops: `<name>/W` [n_in, n_output], `<name>/b` [n_output], `<name>/MatMul`,
    `<name>/h` (BiasAdd), then the activation's op.

    Args:
      x: float32 [?, n_in], or [?, h, w, c], which is flattened first.
      n_output: number of output units.
      activation: e.g. tf.nn.relu; None keeps `h`.

    Returns:
      (h, W): float32 [?, n_output] and the weight variable [n_in, n_output].
    """
    if len(x.get_shape()) != 2:
        x = flatten(x, reuse=reuse)
    n_input = x.get_shape().as_list()[1]
    with tf.variable_scope(name or "fc", reuse=reuse):
        W = tf.get_variable(name="W", shape=[n_input, n_output], dtype=tf.float32,
                            initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable(name="b", shape=[n_output], dtype=tf.float32,
                            initializer=tf.constant_initializer(0.0))
        h = tf.nn.bias_add(tf.matmul(x, W), b, name="h")
        if activation:
            h = activation(h)
    return h, W


def conv2d(x, n_output, k_h=5, k_w=5, d_h=2, d_w=2, padding="SAME", name="conv2d",
           reuse=None):
    """Strided convolution `conv(x, W) + b` in variable scope `name`.

    Ops: `<name>/W` [k_h, k_w, c_in, n_output], `<name>/conv` (Conv2D), `<name>/b`,
    `<name>/h` (BiasAdd).

    Args:
      x: float32 [?, H, W, c_in].

    Returns:
      (h, W): float32 [?, ceil(H/d_h), ceil(W/d_w), n_output] for SAME padding, and W.
    """
    with tf.variable_scope(name or "conv2d", reuse=reuse):
        W = tf.get_variable(name="W", shape=[k_h, k_w, x.get_shape()[-1], n_output],
                            initializer=tf.glorot_uniform_initializer())
        conv = tf.nn.conv2d(name="conv", input=x, filter=W, strides=[1, d_h, d_w, 1],
                            padding=padding)
        b = tf.get_variable(name="b", shape=[n_output],
                            initializer=tf.constant_initializer(0.0))
        h = tf.nn.bias_add(conv, b, name="h")
    return h, W


def deconv2d(x, n_output_h, n_output_w, n_output_ch, n_input_ch=None, k_h=5, k_w=5, d_h=2,
             d_w=2, padding="SAME", name="deconv2d", reuse=None):
    """Transposed convolution to a given output size, with NEW weights, in scope `name`.

    Ops: `<name>/W` [k_h, k_w, n_output_ch, n_input_ch], the output-shape stack,
    `<name>/conv_t` (Conv2DBackpropInput), `<name>/b`, `<name>/h` (BiasAdd).

    Args:
      x: float32 [?, h, w, n_input_ch].

    Returns:
      (h, W): float32 [?, n_output_h, n_output_w, n_output_ch], and W.
    """
    with tf.variable_scope(name or "deconv2d", reuse=reuse):
        W = tf.get_variable(
            name="W", shape=[k_h, k_w, n_output_ch, n_input_ch or x.get_shape()[-1]],
            initializer=tf.glorot_uniform_initializer())
        conv = tf.nn.conv2d_transpose(
            x, W, tf.stack([tf.shape(x)[0], n_output_h, n_output_w, n_output_ch]),
            strides=[1, d_h, d_w, 1], padding=padding, name="conv_t")
        # The output shape is a tensor, so TensorFlow cannot infer the static shape itself.
        conv.set_shape([None, n_output_h, n_output_w, n_output_ch])
        b = tf.get_variable(name="b", shape=[n_output_ch],
                            initializer=tf.constant_initializer(0.0))
        h = tf.nn.bias_add(conv, b, name="h")
    return h, W


def flatten(x, name=None, reuse=None):
    """[?, h, w, c] to [?, h*w*c] under scope "flatten"; 1-D and 2-D tensors pass unchanged.

    `name` and `reuse` are accepted for the course's signature; the scope is always "flatten".
    """
    del name, reuse
    with tf.variable_scope("flatten"):
        dims = x.get_shape().as_list()
        if len(dims) == 4:
            return tf.reshape(x, shape=[-1, dims[1] * dims[2] * dims[3]])
        if len(dims) in (1, 2):
            return x
        raise ValueError(f"flatten expects a tensor of 1, 2 or 4 dimensions, got {x.shape}")


def to_tensor(x):
    """[?, n] to [?, s, s, 1] (n = s*s), [?, s, s, 3] (n = 3*s*s) or [?, 1, 1, n].

    The reshape op is named "reshape"; a 4-D tensor is returned unchanged.
    """
    dims = x.get_shape().as_list()
    if len(dims) == 4:
        return x
    if len(dims) != 2:
        raise ValueError(f"to_tensor expects a 2-D or 4-D tensor, got {x.shape}")
    n_input = dims[1]
    for channels in (1, 3):
        side = int(round(np.sqrt(n_input / channels)))
        if side * side * channels == n_input:
            return tf.reshape(x, [-1, side, side, channels], name="reshape")
    return tf.reshape(x, [-1, 1, 1, n_input], name="reshape")


def corrupt(x):
    """Masking noise: each element of `x` kept or zeroed with probability 0.5.

    Returns:
      float32 tensor shaped like x: `x * cast(random_uniform int32 in {0, 1})`.
    """
    mask = tf.random_uniform(shape=tf.shape(x), minval=0, maxval=2, dtype=tf.int32)
    return tf.multiply(x, tf.cast(mask, tf.float32))
