"""What every graph builder returns: the tensors a caller needs, by role.

Training loops, exports and tests read these fields instead of looking tensors up by name, so
they work the same for every model of the registry.
"""

import dataclasses
from typing import Any, Optional

from cadl_graph.compat import tf


@dataclasses.dataclass(frozen=True)
class Model:
    """A built graph's handles.

    Attributes:
      x: input placeholder, float32 [?, 784].
      y: the output: reconstruction [?, 784] (autoencoders; [?, 28, 28, 1] for conv_vae) or
        class probabilities [?, 10] (classifiers).
      cost: float32 scalar the optimizer minimises.
      train_op: the optimizer's `minimize` op.
      init_op: `global_variables_initializer()`, created last.
      labels: one-hot label placeholder float32 [?, 10] (classifiers), else None.
      accuracy: float32 scalar, share of argmax matches (classifiers), else None.
      z: the innermost code (autoencoders): feed it to decode, fetch it to encode.
      train_feed: values for auxiliary placeholders while training ({placeholder: value}).
      eval_feed: values for auxiliary placeholders at inference.
      end_points: the forward pass's intermediate tensors by name, in creation order (as
        TF-slim's nets return them): layer outputs, codes; never variables, placeholders or
        ops.
      weights: weight variables worth drawing, by file-friendly name (classifiers).
      placeholders: the auxiliary placeholders by name (`phase_train`, `keep_prob`,
        `corrupt_prob` in the VAE family).
      hparams: the hyperparameters the graph was built with.
      name: the registry name (set by `cadl_graph.graphs.registry`).
    """

    x: tf.Tensor
    y: tf.Tensor
    cost: tf.Tensor
    train_op: tf.Operation
    init_op: tf.Operation
    labels: Optional[tf.Tensor] = None
    accuracy: Optional[tf.Tensor] = None
    z: Optional[tf.Tensor] = None
    train_feed: dict = dataclasses.field(default_factory=dict)
    eval_feed: dict = dataclasses.field(default_factory=dict)
    end_points: dict = dataclasses.field(default_factory=dict)
    weights: dict = dataclasses.field(default_factory=dict)
    placeholders: dict = dataclasses.field(default_factory=dict)
    hparams: dict[str, Any] = dataclasses.field(default_factory=dict)
    name: Optional[str] = None

    @property
    def graph(self):
        return self.x.graph


def placeholder(inputs, role, dtype, shape=None, name=None):
    """The lecture's `tf.placeholder(dtype, shape, name)`, unless `inputs` ({role: tensor})
    gives the tensor to build on instead.

    Every builder takes `inputs` (default None: the placeholders, the course's graph). The
    many-steps training loop (`cadl_graph.training.step_loop`) passes the batch it gathered
    inside a `tf.while_loop` ("x", "labels") and constants for the auxiliary placeholders
    ("phase_train", "keep_prob", "corrupt_prob"), and builds the model again on them.
    """
    if inputs is None:
        return tf.placeholder(dtype, shape, name=name)
    return inputs[role]


def initializer(inputs):
    """The lecture's last cell, `tf.global_variables_initializer()`. A model built on `inputs`
    (again, over variables that exist) gets a NoOp: an initializer there would initialize
    nothing new."""
    return tf.global_variables_initializer() if inputs is None else tf.no_op(name="init")


def adam_minimize(cost, learning_rate=0.001, minimize=None):
    """`tf.train.AdamOptimizer(learning_rate).minimize(cost)`: the lecture's training cell.

    Adds the gradients, the `beta1_power`/`beta2_power` accumulators, two slots per trainable
    variable (`<var>/Adam`, `<var>/Adam_1`) and the `Adam` update op, which it returns.

    Args:
      minimize: None for the lecture's `minimize(cost)`, or a function (optimizer, cost) ->
        train op that minimizes another way (a cluster's synchronous training wraps Adam in a
        SyncReplicasOptimizer). Every builder takes it and passes it here.
    """
    optimizer = tf.train.AdamOptimizer(learning_rate)
    return optimizer.minimize(cost) if minimize is None else minimize(optimizer, cost)


def ancestors(tensors):
    """Every op the tensors depend on (their own ops included), through data and control
    edges. None entries are skipped."""
    seen, stack = set(), [t.op for t in tensors if t is not None]
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend([t.op for t in op.inputs] + list(op.control_inputs))
    return seen
