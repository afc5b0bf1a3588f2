"""Many training steps in one `Session.run`: the training split in the graph, a `tf.while_loop`.

    cadl-graph train --model=linear_classifier --steps_per_run=100

Each `Session.run` has a fixed cost besides the arithmetic: feeding the batch, starting the
executor, returning to Python. A step of the lecture's small models is a fraction of a
millisecond of arithmetic, so that cost is a large share of it. Running K steps per call pays
it once per K steps: TF1's `TPUEstimator` did this (`iterations_per_loop`), and Keras copied it
(`steps_per_execution`). A model whose step takes tens of milliseconds gains nothing.

What `build` adds to a training graph, after the model, its global step and its Saver (so the
model's ops are its golden's and the checkpoint's variables are the default graph's: a run
saved with any K resumes with any other), all under the name scope `steps_per_run/`:

  images, labels    the training split (minus the mean image, for the models fed
                    `x - mean_img`) in LOCAL variables: filled once per session from the fed
                    `images_value` / `labels_value`, never saved in a checkpoint
  batches           int32 [K, batch] placeholder: row k holds the example indices of step k,
                    the default loop's batches in its order
  while/...         one iteration per row, one at a time (`parallel_iterations=1`): gather
                    the row's examples, build the registry model again on them (its variables
                    reused, its batch norms' moving averages too), apply the model's own Adam
                    optimizer (the same slots and beta powers), and write the step's cost
  costs             float32 [K]: each step's cost, as the default loop fetches it

The steps are the default loop's: the same examples in the same batches in the same order,
the same random draws (each random op of the loop gets its model twin's seeds), so the weights
after N steps equal the default loop's (tests/training/test_step_loop.py measures it).
`golden/<model>.steps_per_run.ops.txt` pins the graph.

With `xla=True` the loop's model is built under `tf.xla.experimental.jit_scope()`: its ops
carry `_XlaCompile=True`, and TensorFlow compiles those it can (the forward pass and the
gradients; not the variable reads and `ApplyAdam`, which take TF1's reference variables) into
fused XLA programs on the CPU, with no environment variable. Same ops, so the same golden (it
leaves out `_` attributes); different rounding, so not the default loop's weights bit for bit.
"""

import contextlib
import dataclasses
from typing import Optional

from tensorflow.core.framework import attr_value_pb2

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.graphs.model import ancestors

SCOPE = "steps_per_run"
# Stateful random ops take their stream from their seeds: the loop's copies get the model's.
RANDOM_OPS = ("RandomStandardNormal", "RandomUniform", "RandomUniformInt")


class Recorder:
    """`minimize` for the builders that changes nothing (`optimizer.minimize(cost)`, the
    lecture's cell) and keeps each (optimizer, train op), so the loop applies the same
    optimizer."""

    def __init__(self):
        self.calls = []

    def __call__(self, optimizer, cost):
        train_op = optimizer.minimize(cost)
        self.calls.append((optimizer, train_op))
        return train_op


@dataclasses.dataclass(frozen=True)
class StepLoop:
    """The loop's handles.

    Attributes:
      images_value: float32 [n, ...] placeholder that fills `load`'s images variable.
      labels_value: float32 [n, classes] placeholder (classifiers), else None.
      load: op that fills the data variables from the two placeholders.
      batches: int32 [K, batch] placeholder, one row of example indices per step.
      costs: float32 [K], each step's cost.
    """

    images_value: tf.Tensor
    labels_value: Optional[tf.Tensor]
    load: tf.Operation
    batches: tf.Tensor
    costs: tf.Tensor


def build(name, hparams, model, recorder, xla=False):
    """Adds the K-steps loop of registry model `name` to the default graph, which already holds
    `model` built with `minimize=recorder` (and after it the training machinery).

    Args:
      hparams: the hyperparameters `model` was built with.
      model: the registry Model; its `x` (and `labels`) give the data's shapes, its
        `train_feed` the auxiliary placeholders' training values.
      recorder: the `Recorder` the model was built with.
      xla: mark the loop's model for XLA compilation.

    Returns:
      StepLoop.
    """
    which = [op for _, op in recorder.calls].index(model.train_op)
    optimizer = recorder.calls[which][0]
    with tf.name_scope(SCOPE):
        images_value = tf.placeholder(tf.float32, model.x.shape, name="images_value")
        images = _data_variable(images_value, "images")
        labels_value = labels = None
        if model.labels is not None:
            labels_value = tf.placeholder(tf.float32, model.labels.shape, name="labels_value")
            labels = _data_variable(labels_value, "labels")
        load = tf.group(*[v.initializer for v in (images, labels) if v is not None],
                        name="load")
        batches = tf.placeholder(tf.int32, [None, None], name="batches")
        steps = tf.shape(batches)[0]
        constants = {role: tf.constant(model.train_feed[p], p.dtype, name=role)
                     for role, p in model.placeholders.items()}

        def body(k, costs):
            rows = batches[k]
            inputs = {"x": _gather(images, rows, model.x), **constants}
            if labels is not None:
                inputs["labels"] = _gather(labels, rows, model.labels)
            loop_scope = tf.get_default_graph().get_name_scope() + "/"
            calls = iter(range(len(recorder.calls)))

            def minimize(_, cost):  # the model's own optimizer; the other cells' not at all
                return optimizer.minimize(cost) if next(calls) == which else tf.no_op()

            def model_variable(getter, name, *args, **kwargs):
                # The batch norms name their moving averages after ops, which are under the
                # loop's name scope here: look the model's up.
                return getter(name.replace(loop_scope, ""), *args, **kwargs)

            with tf.variable_scope(tf.get_variable_scope(), reuse=True,
                                   custom_getter=model_variable), \
                    (tf.xla.experimental.jit_scope() if xla else contextlib.nullcontext()):
                step = registry.build(name, minimize=minimize, inputs=inputs, **hparams)
            _copy_random_seeds(model.cost, step.cost)
            with tf.control_dependencies([step.train_op]):
                return k + 1, costs.write(k, step.cost)

        _, costs = tf.while_loop(lambda k, _: k < steps, body,
                                 [tf.constant(0), tf.TensorArray(tf.float32, size=steps)],
                                 parallel_iterations=1, back_prop=False)
        costs = tf.identity(costs.stack(), name="costs")
    return StepLoop(images_value, labels_value, load, batches, costs)


def compiled_ops(run_metadata):
    """How many XLA programs ran in a traced `Session.run` (its `_XlaRun` ops)."""
    return sum(node.timeline_label.split("(")[0].split("= ")[-1].strip() == "_XlaRun"
               for device in run_metadata.step_stats.dev_stats for node in device.node_stats)


def _data_variable(value, name):
    """A LOCAL variable (no checkpoint holds it) with `value`'s data, its length left open."""
    return tf.Variable(value, trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES],
                       validate_shape=False, name=name)


def _gather(data, rows, like):
    """The examples `rows` of `data`, with the static shape of the placeholder `like` ([?, n]):
    the builders read their layer sizes from it."""
    batch = tf.gather(data, rows)
    batch.set_shape(like.shape)
    return batch


def _copy_random_seeds(model_cost, loop_cost):
    """Gives each random op the loop's cost depends on the seeds of its twin in the model's
    cost (they pair up in creation order), so the loop draws what the default loop's session
    draws."""
    graph = model_cost.graph
    model_random, loop_random = (
        [op for op in graph.get_operations() if op.type in RANDOM_OPS and op in needed]
        for needed in (ancestors([model_cost]), ancestors([loop_cost])))
    if len(model_random) != len(loop_random):
        raise AssertionError(f"the loop's model has {len(loop_random)} random ops, the model "
                             f"{len(model_random)}")
    for ours, theirs in zip(loop_random, model_random):
        for attr in ("seed", "seed2"):
            # No public call sets an attribute of an op already built.
            ours._set_attr(attr, attr_value_pb2.AttrValue(i=theirs.get_attr(attr)))  # noqa: SLF001
