"""Batch normalization as the course built it: moments, an EMA of them, and a tf.cond.

During training (`phase_train` True) a batch is normalised by its own mean and variance, and
running averages of both (decay 0.99) are updated as a side effect; at inference the running
averages are used. The ops are v1 control flow (Switch/Merge) because graph mode disables
control flow v2.

One deliberate difference from the course's version: there the EMA update op was created
outside the cond and only referenced from its training branch, and TensorFlow runs ops created
outside a cond whenever the cond runs. Every inference run therefore moved the averages toward
the batch it was scoring, and read them while they were being written, so the same input could
give different outputs (a race, visible as flaky evaluations). Here the update is created
inside the training branch: inference reads the averages and leaves them alone. The variables
keep the course's names, so its checkpoints still restore; the update ops now sit under the
cond's scope (a golden change).
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

        def mean_var_with_update():
            with tf.control_dependencies([ema.apply([batch_mean, batch_var])]):
                return tf.identity(batch_mean), tf.identity(batch_var)

        def moving_averages():  # called after the branch above, which created them
            return ema.average(batch_mean), ema.average(batch_var)

        mean, var = tf.cond(phase_train, mean_var_with_update, moving_averages)
        normed = tf.nn.batch_norm_with_global_normalization(
            x, mean, var, beta, gamma, EPSILON, affine)
        if len(og_shape) == 2:
            normed = tf.reshape(normed, [-1, og_shape[-1]])
    return normed
