"""Scoring a model without changing it: held-out metrics in an inference copy of its graph.

The course's batch norm updates its moving averages on every run, inference included (see
`cadl_graph.graphs.batch_norm`). Scoring in the training session would therefore move the model's
averages toward the data being scored (leaking test statistics into the next checkpoint) and
race with its own reads, so the same weights would score differently each time.

Every score and picture is therefore computed in a `Scorer`: the same registry model built
again into its own graph with `registry.inference_hparams` (for the VAE family, the repaired
batch norm; for the other models, the same graph). Its variables have the same names as the
training graph's, so it takes their values from the training session (`from_session`) or from
a checkpoint (`from_checkpoint`). Each scoring session is new and the graph-level seed is fixed,
so the VAEs' sampled costs are the same number every time the same weights are scored, and no
variable of the training session is touched.
"""

import contextlib

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints

EVAL_BATCH = 1000  # held-out data is scored in chunks of this many images


class Feeder:
    """Builds feed dicts the way the lecture fed each kind of model.

    Args:
      model: a registry Model.
      mean_img: float32 [784] subtracted from every input (the tied autoencoders were trained
        on `x - mean_img`), or None.
    """

    def __init__(self, model, mean_img=None):
        self.model = model
        self.subtract = mean_img

    def inputs(self, xs):
        return xs - self.subtract if self.subtract is not None else xs

    def step(self, sess, fetches):
        """A callable `f(xs, ys)` that runs `fetches` on a training batch.

        Built with `Session.make_callable`: the feed's placeholders are fixed once, so each
        call skips the per-run feed-dict processing. `xs` must already be model inputs
        (`inputs(images)`), `ys` the labels (ignored by models without them).
        """
        model = self.model
        aux = list(model.train_feed)
        feed_list = [model.x] + ([model.labels] if model.labels is not None else []) + aux
        run = sess.make_callable(fetches, feed_list=feed_list)
        values = [model.train_feed[p] for p in aux]
        if model.labels is not None:
            return lambda xs, ys: run(xs, ys, *values)
        return lambda xs, ys: run(xs, *values)

    def __call__(self, xs, ys=None, train=False, extra=None):
        """Feed for a batch; `extra` overrides placeholders (e.g. corrupt_prob)."""
        model = self.model
        feed = {model.x: self.inputs(xs), **(model.train_feed if train else model.eval_feed)}
        if model.labels is not None:
            feed[model.labels] = ys
        feed.update(extra or {})
        return feed


def chunks(split, size=EVAL_BATCH):
    """(images, labels) of a split in order, `size` at a time."""
    for start in range(0, split.num_examples, size):
        stop = start + size
        yield split.images[start:stop], None if split.labels is None else split.labels[start:stop]


def evaluate(sess, feeder, split):
    """Scores a held-out split in chunks.

    Returns:
      accuracy (classifiers) or mean cost (others), each chunk weighted by its size; None for
      an empty split.
    """
    if split.num_examples == 0:
        return None
    model = feeder.model
    metric = model.accuracy if model.accuracy is not None else model.cost
    total = sum(float(sess.run(metric, feeder(xs, ys))) * len(xs) for xs, ys in chunks(split))
    return total / split.num_examples


class Scorer:
    """The inference copy of a registry model's graph.

    Attributes:
      model: the Model built into `graph` (use its tensors with sessions from this Scorer).
      graph: a finalized tf.Graph.
    """

    def __init__(self, name, hparams=None, seed=0):
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(seed)
            self.model = registry.build(name, **registry.inference_hparams(
                name, **(hparams or {})))
            self._variables = self.graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
            self._saver = tf.train.Saver(self._variables)
        self.graph.finalize()

    def feeder(self, mean_img=None):
        return Feeder(self.model, mean_img)

    @contextlib.contextmanager
    def from_session(self, sess, variables):
        """A new session holding the current values of `variables` from `sess`.

        Args:
          sess: the training session.
          variables: its global variables (a superset of this graph's, matched by name).
        """
        values = dict(zip([v.op.name for v in variables], sess.run(list(variables))))
        missing = [v.op.name for v in self._variables if v.op.name not in values]
        if missing:
            raise ValueError(f"the training graph has no variables {', '.join(missing)}")
        with tf.Session(graph=self.graph) as scoring:
            for var in self._variables:
                var.load(values[var.op.name], scoring)
            yield scoring

    @contextlib.contextmanager
    def from_checkpoint(self, prefix):
        """A new session with the variables restored from checkpoint `prefix`.

        Raises:
          checkpoints.CheckpointError: the checkpoint does not fit (each variable listed).
        """
        with tf.Session(graph=self.graph) as scoring:
            checkpoints.restore(scoring, self._saver, prefix, self._variables)
            yield scoring
