"""The lecture's MNIST classifiers: linear softmax (In[41]-[47]) and convolutional
(In[54]-[65]), with the lecture's cross entropy and accuracy.

Split as TensorFlow's MNIST tutorial splits a model: an inference function (the network), a
loss, an evaluation, and a model function that assembles the lecture's cells in their order.
"""

from cadl_graph.compat import tf
from cadl_graph.data.datasets import IMAGE_SIZE, N_CLASSES, N_FEATURES
from cadl_graph.graphs import layers as utils
from cadl_graph.graphs.hparam_types import Rate, Stddev
from cadl_graph.graphs.model import Model, adam_minimize, initializer, placeholder

# Added inside the log so a confident wrong prediction (p = 0) costs a lot, not infinity.
LOG_EPSILON = 1e-12


def linear_net(X, n_output=N_CLASSES):
    """In[43]: one `linear` layer with softmax, scope `layer1`.

    Args:
      X: float32 [?, 784].

    Returns:
      (Y_pred, end_points, weights): probabilities float32 [?, n_output]; end point
      'layer1/h' (the logits); weights {'layer1_W': [784, n_output]}.
    """
    Y_pred, W = utils.linear(x=X, n_output=n_output, activation=tf.nn.softmax, name="layer1")
    return Y_pred, {"layer1/h": Y_pred.op.inputs[0]}, {"layer1_W": W}


def conv_net(X, *, init_stddev, n_output=N_CLASSES, filter_size=5, n_filters=(32, 64),
             n_fc=128):
    """In[55]-[62]: two strided conv layers with biases, then fc_1 (relu) and fc_2 (softmax).

    Variables `W`, `b` (layer 1) and `W2`, `b2` (layer 2) live at the top level, initialised
    with `random_normal_initializer(stddev=init_stddev)` and zeros; the lecture used the
    initializer's default stddev, 1.0 (the registry's value). `init_stddev` changes only the
    value of that initializer's stddev constant: a smaller one (e.g. 0.1) avoids the slow,
    seed-dependent first epochs that 1.0 causes. The other arguments are the lecture's
    architecture.

    Args:
      X: float32 [?, 784].

    Returns:
      (Y_pred, end_points, weights): probabilities float32 [?, n_output]; end points 'h_1'
      [?, 14, 14, 32], 'h_2' [?, 7, 7, 64], 'h_2_flat' [?, 3136], 'h_3' [?, 128]; weights
      {'W_1': W [5, 5, 1, 32], 'W_2': W2 [5, 5, 32, 64]}.
    """
    X_tensor = tf.reshape(X, [-1, IMAGE_SIZE, IMAGE_SIZE, 1])   # In[55]
    n_in, n_1, n_2 = 1, n_filters[0], n_filters[1]
    initializer = tf.random_normal_initializer(stddev=init_stddev)
    # In[56]-[58]: the first layer
    W_1 = tf.get_variable(name="W", shape=[filter_size, filter_size, n_in, n_1],
                          initializer=initializer)
    b_1 = tf.get_variable(name="b", shape=[n_1], initializer=tf.constant_initializer())
    h_1 = tf.nn.relu(tf.nn.bias_add(
        tf.nn.conv2d(input=X_tensor, filter=W_1, strides=[1, 2, 2, 1], padding="SAME"), b_1))
    # In[59]: the second layer
    W_2 = tf.get_variable(name="W2", shape=[filter_size, filter_size, n_1, n_2],
                          initializer=initializer)
    b_2 = tf.get_variable(name="b2", shape=[n_2], initializer=tf.constant_initializer())
    h_2 = tf.nn.relu(tf.nn.bias_add(
        tf.nn.conv2d(input=h_1, filter=W_2, strides=[1, 2, 2, 1], padding="SAME"), b_2))
    dims = h_2.get_shape().as_list()
    h_2_flat = tf.reshape(h_2, [-1, dims[1] * dims[2] * n_2])                       # In[60]
    h_3, _ = utils.linear(h_2_flat, n_fc, activation=tf.nn.relu, name="fc_1")       # In[61]
    Y_pred, _ = utils.linear(h_3, n_output, activation=tf.nn.softmax, name="fc_2")  # In[62]
    end_points = {"h_1": h_1, "h_2": h_2, "h_2_flat": h_2_flat, "h_3": h_3}
    return Y_pred, end_points, {"W_1": W_1, "W_2": W_2}


def cross_entropy(Y, Y_pred):
    """In[44] (and In[63]): `-sum(Y * log(Y_pred + 1e-12))` over the whole batch (a sum, not a
    mean): float32 scalar."""
    return -tf.reduce_sum(Y * tf.log(Y_pred + LOG_EPSILON))


def predictions(Y_pred, Y):
    """In[45]: the predicted and the labelled class of each example: int64 [?] each."""
    return tf.argmax(Y_pred, 1), tf.argmax(Y, 1)


def share_equal(predicted_y, actual_y):
    """In[46]: the share of examples whose two classes agree: float32 scalar."""
    correct_prediction = tf.equal(predicted_y, actual_y)
    return tf.reduce_mean(tf.cast(correct_prediction, "float"))


def accuracy(Y_pred, Y):
    """In[45]-[46] (and In[64]): share of examples whose most probable class is the labelled
    one: float32 scalar."""
    return share_equal(*predictions(Y_pred, Y))


def _classifier(inference, learning_rate, hparams, minimize, inputs):
    """The cells both classifiers share, around their `inference` network: linear classifier
    In[41]-[47], conv classifier In[54]-[65] (the second cell tag of each line)."""
    X = placeholder(inputs, "x", tf.float32, [None, N_FEATURES])      # In[41] / In[54]
    Y = placeholder(inputs, "labels", tf.float32, [None, N_CLASSES])  # In[42] / In[54]
    Y_pred, end_points, weights = inference(X)                        # In[43] / In[55]-[62]
    cost = cross_entropy(Y, Y_pred)                                   # In[44] / In[63]
    train_op = adam_minimize(cost, learning_rate, minimize)           # In[44] / In[63]
    acc = accuracy(Y_pred, Y)                                         # In[45]-[46] / In[64]
    init_op = initializer(inputs)                                     # In[47] / In[65]
    return Model(x=X, y=Y_pred, labels=Y, cost=cost, accuracy=acc, train_op=train_op,
                 init_op=init_op, end_points=end_points, weights=weights, hparams=hparams)


def linear_classifier(*, learning_rate: Rate, minimize=None, inputs=None):
    """In[41]-[47]: X, Y, layer1 (softmax), cross entropy, Adam (lecture: 0.001), accuracy,
    init."""
    return _classifier(linear_net, learning_rate, dict(learning_rate=learning_rate), minimize,
                       inputs)


def conv_classifier(*, learning_rate: Rate, init_stddev: Stddev, minimize=None,
                    inputs=None):
    """In[54]-[65]: X, Y, conv_net, cross entropy, Adam() (default rate 0.001), accuracy, init.
    """
    return _classifier(lambda X: conv_net(X, init_stddev=init_stddev), learning_rate,
                       dict(learning_rate=learning_rate, init_stddev=init_stddev), minimize,
                       inputs)
