"""The lecture's autoencoders with tied weights: fully connected (In[10]-[19]) and
convolutional (In[23]-[30]).

The decoders create no variables: they reuse the encoder's weights, transposed (fully
connected) or through `conv2d_transpose` (convolutional), so only half of the network is
learned. Every layer is `relu(x @ W)` or `relu(conv(x, W))` with no bias, the output layer
included.
"""

from cadl_graph.compat import tf
from cadl_graph.data.datasets import IMAGE_SIZE, N_FEATURES
from cadl_graph.graphs.hparam_types import HparamError, Rate, Sizes
from cadl_graph.graphs.model import Model, adam_minimize, initializer, placeholder


def _normal_weight(shape, stddev=0.02):
    return tf.get_variable(name="W", shape=shape,
                           initializer=tf.random_normal_initializer(mean=0.0, stddev=stddev))


def fc_encoder(x, dimensions):
    """In[11]: `relu(x @ W)` for each size in `dimensions`, in scopes `encoder/layer/{i}`.

    Args:
      x: float32 [?, n_features].
      dimensions: units per layer, e.g. [512, 256, 128, 64].

    Returns:
      (z, Ws, end_points): the code float32 [?, dimensions[-1]], the weights in layer order,
      and each layer's output by scope name.
    """
    current_input, n_input = x, x.get_shape().as_list()[1]
    Ws, end_points = [], {}
    for layer_i, n_output in enumerate(dimensions):
        with tf.variable_scope(f"encoder/layer/{layer_i}") as scope:
            W = _normal_weight([n_input, n_output])
            current_input = tf.nn.relu(tf.matmul(current_input, W))
            Ws.append(W)
            end_points[scope.name] = current_input
            n_input = n_output
    return current_input, Ws, end_points


def fc_decoder(z, Ws):
    """In[13]-[14]: `relu(x @ transpose(W))` through the encoder's weights in reverse, in
    `decoder/layer/{i}`.

    Returns:
      (y, end_points): float32 [?, Ws[0].shape[0]] and each layer's output by scope name.
    """
    current_input, end_points = z, {}
    for layer_i, W in enumerate(Ws[::-1]):
        with tf.variable_scope(f"decoder/layer/{layer_i}") as scope:
            current_input = tf.nn.relu(tf.matmul(current_input, tf.transpose(W)))
            end_points[scope.name] = current_input
    return current_input, end_points


def conv_encoder(x_tensor, n_filters, filter_sizes):
    """In[26]: `relu(conv2d(x, W, stride 2, SAME))` per layer, in scopes `encoder/layer/{i}`.

    Args:
      x_tensor: float32 [?, 28, 28, 1].
      n_filters, filter_sizes: channels and kernel size of each layer.

    Returns:
      (z, Ws, shapes, end_points): the code ([?, 4, 4, 16] for three layers of 16), the
      weights [k, k, c_in, c_out] in layer order, each layer's input shape (for the decoder),
      and each layer's output by scope name.
    """
    current_input, n_input = x_tensor, x_tensor.get_shape().as_list()[3]
    Ws, shapes, end_points = [], [], {}
    for layer_i, n_output in enumerate(n_filters):
        with tf.variable_scope(f"encoder/layer/{layer_i}") as scope:
            shapes.append(current_input.get_shape().as_list())
            size = filter_sizes[layer_i]
            W = _normal_weight([size, size, n_input, n_output])
            h = tf.nn.conv2d(current_input, W, strides=[1, 2, 2, 1], padding="SAME")
            current_input = tf.nn.relu(h)
            Ws.append(W)
            end_points[scope.name] = current_input
            n_input = n_output
    return current_input, Ws, shapes, end_points


def conv_decoder(z, Ws, shapes, X):
    """In[27]-[28]: `relu(conv2d_transpose(x, W))` back through each encoder shape, in
    `decoder/layer/{i}` (In[27] reverses the lists: no op).

    Args:
      z: the code [?, h, w, c].
      Ws, shapes: as `conv_encoder` returns them (encoder order).
      X: the tensor whose first dimension is the batch size; each layer takes
        `tf.shape(X)[0]` in its own scope, as the lecture's cell does.

    Returns:
      (y, end_points): float32 [?, 28, 28, 1] and each layer's output by scope name.
    """
    current_input, end_points = z, {}
    for layer_i, (W, shape) in enumerate(zip(Ws[::-1], shapes[::-1])):
        with tf.variable_scope(f"decoder/layer/{layer_i}") as scope:
            h = tf.nn.conv2d_transpose(
                current_input, W, tf.stack([tf.shape(X)[0], shape[1], shape[2], shape[3]]),
                strides=[1, 2, 2, 1], padding="SAME")
            current_input = tf.nn.relu(h)
            end_points[scope.name] = current_input
    return current_input, end_points


def reconstruction_cost(X, Y):
    """In[16]-[17] (and In[30]): mean over the batch of each example's mean squared pixel
    difference: float32 scalar."""
    return tf.reduce_mean(tf.reduce_mean(tf.squared_difference(X, Y), 1))


def fc_autoencoder(*, dimensions: Sizes, learning_rate: Rate, minimize=None, inputs=None):
    """In[10]-[19]: X, tied fully connected encoder/decoder, cost, Adam, init.

    The lecture's values (dimensions [512, 256, 128, 64], learning rate 0.001) live in
    `cadl_graph.graphs.registry`.

    Returns:
      Model with x = Placeholder [?, 784], z [?, dimensions[-1]], y [?, 784].
    """
    X = placeholder(inputs, "x", tf.float32, [None, N_FEATURES])  # In[10]
    z, Ws, end_points = fc_encoder(X, dimensions)                 # In[11]
    Y, decoder_points = fc_decoder(z, Ws)                         # In[13]-[15]
    cost = reconstruction_cost(X, Y)                              # In[16]-[17]
    train_op = adam_minimize(cost, learning_rate, minimize)       # In[18]
    init_op = initializer(inputs)                                 # In[19]
    return Model(x=X, y=Y, z=z, cost=cost, train_op=train_op, init_op=init_op,
                 end_points={**end_points, **decoder_points},
                 hparams=dict(dimensions=list(dimensions), learning_rate=learning_rate))


def conv_autoencoder(*, n_filters: Sizes, filter_sizes: Sizes, learning_rate: Rate,
                     minimize=None, inputs=None):
    """In[23]-[30]: X, reshape to 28x28x1, tied conv encoder/decoder, reshape, cost, Adam, init.

    The lecture's values (n_filters [16, 16, 16], filter_sizes [4, 4, 4], learning rate 0.001)
    live in `cadl_graph.graphs.registry`.

    Returns:
      Model with x [?, 784], z [?, 4, 4, 16] for three layers of 16, y [?, 784].

    Raises:
      HparamError: fewer filter sizes than layers.
    """
    if len(filter_sizes) < len(n_filters):
        raise HparamError(f"conv_autoencoder needs a filter size per layer: n_filters "
                          f"{list(n_filters)}, filter_sizes {list(filter_sizes)}")
    X = placeholder(inputs, "x", tf.float32, [None, N_FEATURES])                 # In[23]
    X_tensor = tf.reshape(X, [-1, IMAGE_SIZE, IMAGE_SIZE, 1])                    # In[24]
    z, Ws, shapes, end_points = conv_encoder(X_tensor, n_filters, filter_sizes)  # In[25]-[26]
    decoded, decoder_points = conv_decoder(z, Ws, shapes, X)                     # In[27]-[28]
    Y = tf.reshape(decoded, [-1, N_FEATURES])                                    # In[29]
    cost = reconstruction_cost(X, Y)                                             # In[30]
    train_op = adam_minimize(cost, learning_rate, minimize)                      # In[30]
    init_op = initializer(inputs)                                                # In[30]
    return Model(x=X, y=Y, z=z, cost=cost, train_op=train_op, init_op=init_op,
                 end_points={**end_points, **decoder_points},
                 hparams=dict(n_filters=list(n_filters), filter_sizes=list(filter_sizes),
                              learning_rate=learning_rate))
