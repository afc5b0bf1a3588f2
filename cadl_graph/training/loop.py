"""The training loop for every registry model, resumable from its run folder.

    from cadl_graph.training.loop import TrainConfig, train
    result = train(TrainConfig(model="conv_autoencoder", train_dir="runs/train/cae"))

What is fed follows the lecture (`cadl_graph.training.kinds`): the tied autoencoders see
`batch - mean_img`, the classifiers images and one-hot labels, the VAE family raw images plus
its auxiliary placeholders. After each epoch one line reports what the lecture printed and the
speed; at the end the held-out test split is scored. Scores and pictures come from an inference
copy of the graph (`cadl_graph.training.scoring.Scorer`): the training session only runs training steps.

A global step and a Saver are added to the graph only AFTER the registry builder has run, so
the model's own ops are exactly those its golden pins. Checkpoints are saved every
`save_every_steps` and at the end. A rerun with the same `train_dir` takes the folder's lock,
removes what an interrupted write left, restores the newest intact checkpoint (found on disk,
so a moved or copied folder resumes from its own files; see `cadl_graph.training.checkpoints`) and
finishes the remaining steps, replaying each epoch's batch order from the seed: a run killed
at any moment ends with the same weights as one that was never interrupted.
"""

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Optional

import numpy as np

from cadl_graph.compat import tf
from cadl_graph.data.datasets import MNIST
from cadl_graph.errors import ConfigError
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints, cluster, kinds, rundir
from cadl_graph.training.scoring import Feeder, Scorer, evaluate
from cadl_graph.viz import figures, images

log = logging.getLogger(__name__)

SAVE_EVERY_STEPS = 1000   # checkpoint period (and always at the end)
KEEP_CHECKPOINTS = 5      # how many recent checkpoints the Saver keeps
PROGRESS_EVERY_S = 30.0   # long epochs log a progress line this often
PROGRESS_CHECK_STEPS = 64  # ... checked every this many steps (not every step: it is a hot loop)
SUMMARY_EVERY_STEPS = 50  # TensorBoard train-cost points


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run. None means the registry's (the lecture's) value.

    Attributes:
      model: registry name.
      epochs, batch_size: the recipe; defaults from the registry.
      seed: seeds the data shuffle, the epoch orders and TensorFlow's initialisers.
      train_dir: checkpoints, run.json and pictures go here; reused to resume (default
        `runs/train/<model>`).
      data_dir: MNIST directory to try before the cache.
      max_steps: stop once the global step reaches this (short runs); None = all epochs.
      save_every_steps: checkpoint period in steps (and always at the end).
      logdir: TensorBoard event folder, or None for none.
      pictures: draw reconstructions, weights, manifolds.
      keep_checkpoints: how many recent checkpoints the Saver keeps.
      hparams: registry hyperparameters to override, e.g. {"learning_rate": 0.01}.
    """

    model: str
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    seed: int = 0
    train_dir: Optional[str] = None
    data_dir: Optional[str] = None
    max_steps: Optional[int] = None
    save_every_steps: int = SAVE_EVERY_STEPS
    logdir: Optional[str] = None
    pictures: bool = True
    keep_checkpoints: int = KEEP_CHECKPOINTS
    hparams: dict = dataclasses.field(default_factory=dict)

    def resolved(self):
        """A copy with every None filled in from the registry, checked.

        Raises:
          ConfigError: a value that cannot work (the message names the setting).
        """
        spec = registry.get(self.model)
        config = dataclasses.replace(
            self,
            epochs=spec.epochs if self.epochs is None else self.epochs,
            batch_size=spec.batch_size if self.batch_size is None else self.batch_size,
            train_dir=self.train_dir or f"runs/train/{self.model}")
        for name, low in (("epochs", 0), ("batch_size", 1), ("seed", 0), ("max_steps", 0),
                          ("save_every_steps", 1), ("keep_checkpoints", 1)):
            value = getattr(config, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < low):
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("train_dir", "logdir"):
            path = getattr(config, name)
            if path is not None and Path(path).exists() and not Path(path).is_dir():
                raise ConfigError(f"--{name} {path} is a file; name a folder (it is created "
                                  "when missing)")
        return config


def load_dataset(model, seed=0, data_dir=None):
    """The MNIST Dataset a registry model trains on (its split, one-hot labels)."""
    return MNIST(one_hot=True, split=registry.get(model).split, seed=seed, data_dir=data_dir)


def _epoch_seed(seed, epoch):
    return [seed, epoch, 0x5EED]


class _Reporter:
    """Progress log lines and TensorBoard scalars (no-ops without a writer)."""

    def __init__(self, writer):
        self.writer = writer
        self.last_progress = time.monotonic()

    def scalar(self, tag, value, step):
        if self.writer is not None and value is not None:
            self.writer.add_summary(
                tf.Summary(value=[tf.Summary.Value(tag=tag, simple_value=float(value))]), step)

    def progress(self, step, total, images_seen, seconds):
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            log.info("step %d/%d, %.0f images/s", step, total, images_seen / max(seconds, 1e-9))


@dataclasses.dataclass
class _Graph:
    """The training graph: the registry model, then the training machinery after it."""

    graph: tf.Graph
    model: object
    saver: tf.train.Saver
    global_step: tf.Variable
    init_step: tf.Operation
    variables: list


class _BatchBuffer:
    """Training batches gathered into two reused arrays (inputs, labels).

    Each step takes its examples from the split with `np.take` into the same memory and
    subtracts the mean in place: no allocation per step, and the same numbers as
    `images[idx] - mean_img`.
    """

    def __init__(self, split, batch_size, mean_img):
        self.split, self.mean_img = split, mean_img
        self.x = np.empty((batch_size, *split.images.shape[1:]), np.float32)
        self.y = None if split.labels is None else \
            np.empty((batch_size, *split.labels.shape[1:]), split.labels.dtype)

    def fill(self, idx):
        """(inputs, labels or None) of the examples `idx`, as views of the buffers."""
        n = len(idx)
        xs = np.take(self.split.images, idx, axis=0, out=self.x[:n])
        if self.mean_img is not None:
            np.subtract(xs, self.mean_img, out=xs)
        ys = None if self.y is None else np.take(self.split.labels, idx, axis=0, out=self.y[:n])
        return xs, ys


def _training_graph(config, hparams):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(config.seed)
        model = registry.build(config.model, **hparams)
        # Everything below is training machinery, created after the model's own ops.
        # The step is counted in Python and written into global_step before each save, so
        # no step runs an extra op for it.
        global_step = tf.train.get_or_create_global_step()
        saver = tf.train.Saver(max_to_keep=config.keep_checkpoints, save_relative_paths=True)
        init_step = tf.variables_initializer([global_step])
        variables = graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
    graph.finalize()  # a loop that adds ops by mistake would leak memory; fail loudly instead
    return _Graph(graph, model, saver, global_step, init_step, variables)


def _start(sess, g, folder, total, out):
    """Restores the folder's newest intact checkpoint or initialises; returns the step."""
    prefix = checkpoints.latest(folder)
    if prefix is None:
        sess.run([g.model.init_op, g.init_step])
        return 0
    checkpoints.restore(sess, g.saver, prefix, g.variables)
    # The Saver keeps the last few checkpoints and deletes older ones: let it know those on disk.
    g.saver.recover_last_checkpoints([p for _, p in checkpoints.on_disk(folder)])
    step = int(sess.run(g.global_step))
    out(f"resuming {g.model.name} from {prefix} at step {step}/{total}")
    return step


def train(config, ds=None, out=print):
    """Trains `config.model`, resuming from `config.train_dir` when it holds a checkpoint.

    Args:
      config: a TrainConfig.
      ds: the Dataset to use (default: `load_dataset(config.model, config.seed, ...)`).
      out: where the per-epoch lines go (print by default).

    Returns:
      dict: model, hparams, steps (final global step), total_steps, epochs (per-epoch
      records), test (accuracy or mean cost on the test split), test_metric, images_per_s
      (of the training loop), steady_images_per_s (the same after the session's first step,
      which optimizes the graph), train_seconds, checkpoint (final prefix), pictures
      ({name: path}), seconds.

    Raises:
      ConfigError, HparamError: bad settings. RunFolderError, CheckpointError: the folder is
        in use, belongs to another run, or its checkpoints are damaged beyond recovery.
    """
    config = config.resolved()
    started = time.monotonic()
    kind = kinds.of(config.model)
    hparams = registry.hparams(config.model, **config.hparams)
    ds = ds if ds is not None else load_dataset(config.model, config.seed, config.data_dir)
    folder = Path(config.train_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with rundir.lock(folder):
        for path in rundir.clean_leftovers(folder):
            log.warning("removed %s, left by an interrupted write", path)
        rundir.claim(folder, dict(model=config.model, hparams=hparams,
                                  batch_size=config.batch_size, seed=config.seed,
                                  epochs=config.epochs, split=list(ds.split)))
        return _train(config, kind, hparams, ds, folder, out, started)


def train_in_cluster(cluster_task, config, ds=None, out=print):
    """`train` as one task of a cluster (see `cadl_graph.training.cluster`): a ps task serves the
    variables until the workers are done; a worker trains on its shard of the train split;
    the chief (worker 0) also initialises, checkpoints, resumes and scores.

    Raises:
      ClusterError: a cluster description that cannot work; as `train` otherwise.
    """
    config = config.resolved()
    if cluster_task.job == "ps":
        return cluster.serve(cluster_task, out=out)
    ds = ds if ds is not None else load_dataset(config.model, config.seed, config.data_dir)
    return cluster.train(cluster_task, config, ds, out=out)


def _train(config, kind, hparams, ds, folder, out, started):
    g = _training_graph(config, hparams)
    scorer = Scorer(config.model, hparams, seed=config.seed)
    mean_img = ds.mean() if kind.subtracts_mean else None
    if mean_img is not None:  # scoring and exports need the mean the model was trained around
        rundir.save_mean(folder, mean_img)
    feeder, scoring_feeder = Feeder(g.model, mean_img), scorer.feeder(mean_img)
    steps_per_epoch = math.ceil(ds.train.num_examples / config.batch_size)
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    examples = kind.examples(ds)
    writer = tf.summary.FileWriter(config.logdir, g.graph) if config.logdir else None
    report = _Reporter(writer)
    frames_dir = folder / rundir.PICTURES / "epochs"

    intra, inter = registry.get(config.model).threads
    session_config = tf.ConfigProto(intra_op_parallelism_threads=intra,
                                    inter_op_parallelism_threads=inter)
    with tf.Session(graph=g.graph, config=session_config) as sess:
        step = _start(sess, g, folder, total, out)
        # Epochs finished after the restored checkpoint are trained again, so their records go.
        history = [r for r in rundir.load_history(folder) if r["step"] <= step]

        def save():
            g.global_step.load(step, sess)
            return g.saver.save(sess, str(folder / rundir.CHECKPOINT_NAME), global_step=step,
                                write_meta_graph=False)

        # The cost is fetched only when it is used: every step for kinds that average it over
        # the epoch (the VAEs), else on the TensorBoard steps.
        buffer = _BatchBuffer(ds.train, config.batch_size, mean_img)
        run_step = feeder.step(sess, g.model.train_op)
        run_step_and_cost = feeder.step(sess, [g.model.train_op, g.model.cost])
        images_seen, train_seconds = 0, 0.0
        first_step = None  # (seconds, images) of the session's first step: it optimizes the graph
        for epoch in range(step // steps_per_epoch, math.ceil(total / steps_per_epoch)):
            skip = step - epoch * steps_per_epoch
            epoch_start, epoch_images, epoch_costs = time.monotonic(), 0, []
            # The epoch's order, replayed from the seed when resuming mid-epoch.
            order = ds.train.order(seed=_epoch_seed(config.seed, epoch))
            last = order[:0]
            for start in range(skip * config.batch_size, len(order), config.batch_size):
                if step >= total:
                    break
                last = order[start:start + config.batch_size]
                batch = buffer.fill(last)
                step += 1
                step_start = time.monotonic() if first_step is None else 0.0
                if kind.averages_costs or step % SUMMARY_EVERY_STEPS == 0:
                    cost = float(run_step_and_cost(*batch)[1])
                    epoch_costs.append(cost)
                    if step % SUMMARY_EVERY_STEPS == 0:
                        report.scalar("train/cost", cost, step)
                else:
                    run_step(*batch)
                epoch_images += len(last)
                if first_step is None:
                    first_step = (time.monotonic() - step_start, len(last))
                if step % config.save_every_steps == 0:
                    save()
                if step % PROGRESS_CHECK_STEPS == 0:
                    report.progress(step, total, epoch_images, time.monotonic() - epoch_start)
            seconds = time.monotonic() - epoch_start
            images_seen, train_seconds = images_seen + epoch_images, train_seconds + seconds
            if step < (epoch + 1) * steps_per_epoch or not epoch_images:
                break  # max_steps stopped us mid-epoch: no epoch line
            with scorer.from_session(sess, g.variables) as scoring:
                record = kind.epoch_record(scoring, scoring_feeder, ds, ds.train.images[last],
                                           epoch_costs)
                if config.pictures and kind.reconstructs:
                    images.save_png(frames_dir / f"reconstruction_{epoch:03d}.png",
                                    figures.reconstruction_montage(
                                        scoring.run(scorer.model.y, scoring_feeder(examples)),
                                        mean_img),
                                    vmin=0.0, vmax=1.0)
            record.update(epoch=epoch, step=step, images_per_s=epoch_images / seconds)
            history.append(record)
            rundir.save_history(folder, history)
            out(kind.epoch_line(record))
            for key, value in record.items():
                if key not in ("epoch", "step", "images_per_s"):
                    report.scalar(f"epoch/{key}", value, step)
        final = save()
        with scorer.from_session(sess, g.variables) as scoring:
            test = evaluate(scoring, scoring_feeder, ds.test)
            pictures = _draw(scoring, kind, scoring_feeder, ds, history, folder) \
                if config.pictures else {}
    if writer is not None:
        writer.close()
    test_metric = "test_accuracy" if g.model.accuracy is not None else "test_cost"
    if test is not None:
        out(f"{config.model}: {test_metric.replace('_', ' ')} {test:.6f} on "
            f"{ds.test.num_examples} held-out images")
    return dict(model=config.model, hparams=hparams, steps=step, total_steps=total,
                epochs=history, test=test, test_metric=test_metric, checkpoint=final,
                pictures=pictures,
                images_per_s=images_seen / train_seconds if train_seconds else None,
                steady_images_per_s=_steady_rate(images_seen, train_seconds, first_step),
                train_seconds=train_seconds,
                seconds=time.monotonic() - started)


def _steady_rate(images_seen, seconds, first_step):
    """Images/s after the session's first step (None when there was no other step)."""
    if first_step is None or images_seen <= first_step[1] or seconds <= first_step[0]:
        return None
    return (images_seen - first_step[1]) / (seconds - first_step[0])


def _draw(sess, kind, feeder, ds, history, folder):
    """The reconstruction GIF of every epoch's frame, and the kind's own pictures."""
    out_dir = folder / rundir.PICTURES
    paths = {}
    frame_paths = [out_dir / "epochs" / f"reconstruction_{r['epoch']:03d}.png" for r in history]
    frames = [images.load_gray(p) for p in frame_paths if p.is_file()]
    if frames:
        paths["reconstruction"], paths["reconstruction_gif"] = figures.save_reconstructions(
            frames, out_dir, "reconstruction")
    paths.update(kind.draw(sess, feeder, ds, out_dir))
    return paths
