"""Batch normalization as the course built it: moments, an EMA of them, and a tf.cond.

During training (`phase_train` True) a batch is normalised by its own mean and variance, and
running averages of both (decay 0.99) are updated as a side effect; at inference the running
averages are used. The ops are v1 control flow (Switch/Merge) because graph mode disables
control flow v2.

A quirk of the course's version, kept because removing it changes the graph: the EMA update
op is created outside the cond and only referenced from its training branch, and TensorFlow
runs ops created outside a cond whenever the cond runs. So the moving averages are updated by
every run, inference included, and an inference run reads the averages while they are being
updated. Evaluate with care (or from a frozen export, where the averages are constants).
"""

from cadl_graph.compat import tf

EPSILON = 1e-5


def batch_norm(x, phase_train, name="bn", decay=0.99, reuse=None, affine=True):
    """Normalises `x` over every axis but the channels, in variable scope `name`.

    Variables: `<name>/beta` and `<name>/gamma` [channels] (gamma trainable only if `affine`),
    plus the EMA's shadow copies of the batch mean and variance.

    Args:
      x: float32 [?, h, w, c], or [?, c], which is viewed as [?, 1, 1, c].
      phase_train: bool scalar tensor; True uses batch statistics and updates the averages.
      decay: the moving averages' decay.

    Returns:
      float32 tensor shaped like x.
    """
    with tf.variable_scope(name, reuse=reuse):
        og_shape = x.get_shape().as_list()
        if len(og_shape) == 2:
            x = tf.reshape(x, [-1, 1, 1, og_shape[1]])
        channels = x.get_shape().as_list()[-1]
        beta = tf.get_variable(name="beta", shape=[channels],
                               initializer=tf.constant_initializer(0.0), trainable=True)
        gamma = tf.get_variable(name="gamma", shape=[channels],
                                initializer=tf.constant_initializer(1.0), trainable=affine)
        batch_mean, batch_var = tf.nn.moments(x, [0, 1, 2], name="moments")
        ema = tf.train.ExponentialMovingAverage(decay=decay)
        ema_apply_op = ema.apply([batch_mean, batch_var])
        ema_mean, ema_var = ema.average(batch_mean), ema.average(batch_var)

        def mean_var_with_update():
            with tf.control_dependencies([ema_apply_op]):
                return tf.identity(batch_mean), tf.identity(batch_var)

        mean, var = tf.cond(phase_train, mean_var_with_update, lambda: (ema_mean, ema_var))
        normed = tf.nn.batch_norm_with_global_normalization(
            x, mean, var, beta, gamma, EPSILON, affine)
        if len(og_shape) == 2:
            normed = tf.reshape(normed, [-1, og_shape[-1]])
    return normed
