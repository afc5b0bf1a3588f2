"""Batch normalization as the course built it: moments, an EMA of them, and a tf.cond.

During training (`phase_train` True) a batch is normalised by its own mean and variance, and
running averages of both (decay 0.99) are updated as a side effect; at inference the running
averages are used. The ops are v1 control flow (Switch/Merge) because graph mode disables
control flow v2.

The course's graph has a flaw, reproduced here by default (`update="course"`) because this
package rebuilds the course's graphs exactly. Its EMA update (`<name>/ExponentialMovingAverage`,
a NoOp grouping two `AssignMovingAvg` ops) is created BEFORE the `tf.cond`, outside the cond's
control-flow context; the training branch only names it as a control dependency of its
`cond/Identity` ops. An op outside a cond is not gated by the cond's `Switch`: TensorFlow runs
it whenever anything in the cond runs. So an inference run (`phase_train` False) also moves the
averages toward the batch it is scoring, and the inference branch reads those same averages
while they are being written: two runs on the same input give different outputs, and scoring a
test set leaks its statistics into the model.

`update="in_cond"` is the repair: the update is created inside the training branch, under
`<name>/cond/ExponentialMovingAverage`, so only a training run executes it. The variables are
the same (same names, shapes and initializers), so a checkpoint of either graph restores into
the other; only the update ops move. `tests/graphs/test_batch_norm.py` shows the difference.
"""

from cadl_graph.compat import tf

EPSILON = 1e-5
UPDATES = ("course", "in_cond")


def batch_norm(x, phase_train, name="bn", decay=0.99, reuse=None, affine=True, update="course"):
    """Normalises `x` over every axis but the channels, in variable scope `name`.

    Variables: `<name>/beta` and `<name>/gamma` [channels] (gamma trainable only if `affine`),
    plus the EMA's shadow copies of the batch mean and variance.

    Args:
      x: float32 [?, h, w, c], or [?, c], which is viewed as [?, 1, 1, c].
      phase_train: bool tensor (a scalar at run time); True uses batch statistics and updates
        the averages.
      decay: the moving averages' decay.
      update: "course" (the course's graph: the update op lives outside the cond and also runs
        at inference) or "in_cond" (the repair: only the training branch updates).

    Returns:
      float32 tensor shaped like x.
    """
    if update not in UPDATES:
        raise ValueError(f"batch norm update must be one of {', '.join(UPDATES)}, got {update!r}")
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
        if update == "course":
            ema_apply_op = ema.apply([batch_mean, batch_var])
            ema_mean, ema_var = ema.average(batch_mean), ema.average(batch_var)

            def mean_var_with_update():
                with tf.control_dependencies([ema_apply_op]):
                    return tf.identity(batch_mean), tf.identity(batch_var)

            def moving_averages():
                return ema_mean, ema_var
        else:
            def mean_var_with_update():
                with tf.control_dependencies([ema.apply([batch_mean, batch_var])]):
                    return tf.identity(batch_mean), tf.identity(batch_var)

            def moving_averages():  # runs after the branch above has created the averages
                return ema.average(batch_mean), ema.average(batch_var)

        mean, var = tf.cond(phase_train, mean_var_with_update, moving_averages)
        normed = tf.nn.batch_norm_with_global_normalization(
            x, mean, var, beta, gamma, EPSILON, affine)
        if len(og_shape) == 2:
            normed = tf.reshape(normed, [-1, og_shape[-1]])
    return normed
