"""The training loop of one process, for every registry model, resumable from its run folder.

    from cadl_graph.training.loop import train
    from cadl_graph.training.session import TrainConfig
    result = train(TrainConfig(model="conv_autoencoder", train_dir="runs/train/cae"))

What is fed follows the lecture: the tied autoencoders see `batch - mean_img`, the classifiers
images and one-hot labels, the VAE family raw images plus its auxiliary placeholders. After
each epoch one line reports what the lecture printed and the speed (`cadl_graph.training.kinds`);
at the end the held-out test split is scored. Scores and pictures come from an inference copy
of the graph (`cadl_graph.training.scoring.Scorer`): the training session only runs training
steps.

A global step and a Saver are added to the graph only AFTER the registry builder has run, so
the model's own ops are exactly those its golden pins. Checkpoints are saved every
`save_every_steps` and at the end. A rerun with the same `train_dir` takes the folder's lock,
removes what an interrupted write left, restores the newest intact checkpoint (found on disk,
so a moved or copied folder resumes from its own files; see `cadl_graph.training.checkpoints`)
and finishes the remaining steps, replaying each epoch's batch order from the seed: a run
killed at any moment ends with the same weights as one that was never interrupted.

The run, top to bottom (`train`): prepare the run and take its folder; build the training
graph; start (restore or initialise); for each epoch, run its batches (`_Trainer.epoch`), then
score and record it (`_Trainer.end_epoch`); save, score the test split and draw
(`_Trainer.finish`).
"""

import dataclasses
import logging
import math
import os
import signal
import time
from pathlib import Path
from typing import Optional

import numpy as np

from cadl_graph.compat import tf
from cadl_graph.errors import ConfigError, Stopped
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints, rundir, session, step_loop
from cadl_graph.training.scoring import Feeder, Scorer, evaluate
from cadl_graph.viz import figures, images

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 30.0   # long epochs log a progress line this often
PROGRESS_CHECK_STEPS = 64  # ... checked every this many steps (not every step: it is a hot loop)
SUMMARY_EVERY_STEPS = 50  # TensorBoard train-cost points


def train(config, ds=None, out=print):
    """Trains `config.model`, resuming from `config.train_dir` when it holds a checkpoint.

    Args:
      config: a `session.TrainConfig`.
      ds: the Dataset to use (default: `session.load_dataset(config.model, config.seed, ...)`).
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
      DivergedError: a non-finite cost or weight (nothing non-finite is saved).
      Stopped: SIGINT or SIGTERM arrived; a checkpoint of the step reached was saved first.
    """
    started = time.monotonic()
    run = session.prepare(config, ds)
    with session.StopSignals() as stop, run.taken() as prefix:
        trainer = _Trainer(run, out)
        with trainer.session() as sess:
            trainer.start(sess, prefix)
            for epoch in trainer.epochs():
                completed = trainer.epoch(sess, epoch, stop)
                if stop.signum:
                    trainer.stop(sess, stop.signum)
                if not completed:
                    break  # max_steps stopped us mid-epoch: no epoch line
                trainer.end_epoch(sess, epoch)
            result = trainer.finish(sess)
        if stop.signum:  # it came after the last step: the run was finished first
            log.warning("%s arrived after the last step; the run was finished and saved first",
                        signal.Signals(stop.signum).name)
    return dict(result, seconds=time.monotonic() - started)


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

    def restart(self, step):
        """Marks a resumed run's start, so TensorBoard drops the points a stopped run wrote
        past its last checkpoint (TensorFlow's SessionLog START, as the TF1 Supervisor did)."""
        if self.writer is not None:
            self.writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), step)

    def progress(self, step, total, images_seen, seconds):
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            log.info("step %d/%d, %.0f images/s", step, total, images_seen / max(seconds, 1e-9))

    def close(self):
        if self.writer is not None:
            self.writer.close()


def _writer(logdir, graph, out):
    """A FileWriter for `logdir` that adds the graph only when no event file there holds one:
    a resumed run writes its scalars beside the first run's, and TensorBoard warns of "more
    than one graph event per run" when a folder holds two graphs."""
    # Event files are named by the second they were opened: two runs within one second would
    # write the same file, so each writer's name also gets the nanosecond it was made.
    suffix = f".{time.time_ns()}"
    if _holds_graph(logdir):
        out(f"TensorBoard: {logdir} already holds this run's graph; adding scalars only")
        return tf.summary.FileWriter(logdir, filename_suffix=suffix)
    return tf.summary.FileWriter(logdir, graph, filename_suffix=suffix)


def _holds_graph(logdir):
    for path in sorted(Path(logdir).glob("events.out.tfevents.*")):
        try:
            if any(event.HasField("graph_def")
                   for event in tf.train.summary_iterator(str(path))):
                return True
        except tf.errors.DataLossError:  # the last record of a killed run's file: skip it
            continue
    return False


@dataclasses.dataclass
class _Graph:
    """The training graph: the registry model, then the training machinery after it."""

    graph: tf.Graph
    model: object
    saver: tf.train.Saver
    global_step: tf.Variable
    init_step: tf.Operation
    variables: list
    steps: Optional[step_loop.StepLoop] = None  # the K-steps loop (steps_per_run > 1, xla)


def _training_graph(config, hparams):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(config.seed)
        recorder = step_loop.Recorder() if config.steps_per_run > 1 or config.xla else None
        model = registry.build(config.model, minimize=recorder, **hparams)
        # Everything below is training machinery, created after the model's own ops.
        # The step is counted in Python and written into global_step before each save, so
        # no step runs an extra op for it.
        global_step = tf.train.get_or_create_global_step()
        saver = tf.train.Saver(max_to_keep=config.keep_checkpoints, save_relative_paths=True)
        init_step = tf.variables_initializer([global_step])
        variables = graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
        # After the Saver: checkpoints hold the same variables with any steps_per_run.
        steps = step_loop.build(config.model, hparams, model, recorder, xla=config.xla) \
            if recorder else None
    graph.finalize()  # a loop that adds ops by mistake would leak memory; fail loudly instead
    _check_fits_in_memory(config.model, variables)
    return _Graph(graph, model, saver, global_step, init_step, variables, steps)


def training_graph(config, hparams=None):
    """The graph `train(config)` trains in (the model, global step, Saver and, with
    `config.steps_per_run` > 1 or `config.xla`, the K-steps loop): for goldens and for
    looking at it."""
    config = config.resolved()
    return _training_graph(config, registry.hparams(config.model, **(hparams or {}))).graph


def _check_fits_in_memory(name, variables):
    """Refuses hyperparameters whose variables (with Adam's two slots) cannot fit in this
    machine's memory, before anything is allocated.

    Raises:
      ConfigError: naming the size needed and the memory there is.
    """
    values = sum(int(np.prod(v.shape.as_list())) for v in variables)
    needed = 3 * 4 * values  # float32 weights, Adam's m and v
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > memory:
        raise ConfigError(f"{name}'s variables hold {values:,} values: {needed / 2**30:.0f} GiB "
                          f"with Adam's slots, and this machine has {memory / 2**30:.0f} GiB; "
                          "choose smaller --hparam values")


class _BatchBuffer:
    """Training batches gathered into two reused arrays (inputs, labels).

    Each step takes its examples from the split with `np.take` into the same memory and
    subtracts the mean in place: no allocation per step, and the same numbers as
    `images[idx] - mean_img`.
    """

    def __init__(self, split, batch_size, mean_img):
        self.split, self.mean_img = split, mean_img
        batch_size = min(batch_size, len(split.images))  # no batch is larger than the split
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


class _Trainer:
    """One process's training of a prepared `session.Run`: its graph, session and counters.

    Attributes:
      step: the global step reached.
      history: the per-epoch records (those of epochs finished before a restored checkpoint
        are kept; later ones are trained again).
    """

    def __init__(self, run, out):
        self.run, self.out = run, out
        self.config, self.kind, self.ds = run.config, run.kind, run.ds
        self.g = _training_graph(run.config, run.hparams)
        self.scorer = Scorer(run.config.model, run.hparams, seed=run.config.seed)
        self.feeder = Feeder(self.g.model, run.mean_img)
        self.scoring_feeder = self.scorer.feeder(run.mean_img)
        self.report = _Reporter(_writer(run.config.logdir, self.g.graph, out)
                                if run.config.logdir else None)
        self.buffer = _BatchBuffer(run.ds.train, run.config.batch_size, run.mean_img)
        self.step, self.history = 0, []
        self.images_seen, self.train_seconds = 0, 0.0
        self.first_step = None  # (seconds, images) of the session's first step: it optimizes
        self.last = None        # the examples of the last batch trained

    def session(self):
        intra, inter = registry.get(self.config.model).threads
        return tf.Session(graph=self.g.graph, config=tf.ConfigProto(
            intra_op_parallelism_threads=intra, inter_op_parallelism_threads=inter))

    def start(self, sess, prefix):
        """Restores `prefix` (the folder's newest intact checkpoint), or initialises."""
        g, folder = self.g, self.run.folder
        if prefix is None:
            sess.run([g.model.init_op, g.init_step])
        else:
            checkpoints.restore(sess, g.saver, prefix, g.variables)
            # The Saver keeps the last few checkpoints and deletes older ones: tell it of
            # those on disk.
            g.saver.recover_last_checkpoints([p for _, p in checkpoints.on_disk(folder)])
            self.step = int(sess.run(g.global_step))
            self.report.restart(self.step)
            if self.step >= self.run.total_steps:
                self.out(f"resuming {g.model.name} from {prefix}: already at step {self.step}, "
                         f"at or past this run's last step {self.run.total_steps} (--epochs, "
                         "--max_steps), so nothing to train; scoring it")
            else:
                self.out(f"resuming {g.model.name} from {prefix} at step "
                         f"{self.step}/{self.run.total_steps}")
        self.history = [r for r in rundir.load_history(folder) if r["step"] <= self.step]
        if g.steps is not None:
            self._load_split(sess, g.steps)
            self._run_steps = sess.make_callable(g.steps.costs, feed_list=[g.steps.batches],
                                                 accept_options=True)
        else:
            # The cost is fetched only when it is used: every step for kinds that average it
            # over the epoch (the VAEs), else on the TensorBoard steps.
            self._run_step = self.feeder.step(sess, g.model.train_op)
            self._run_step_and_cost = self.feeder.step(sess, [g.model.train_op, g.model.cost])

    def _load_split(self, sess, steps):
        """Fills the K-steps loop's data variables with the training split (as model inputs)."""
        split = self.ds.train
        images = split.images if self.run.mean_img is None else split.images - self.run.mean_img
        feed = {steps.images_value: images}
        if steps.labels_value is not None:
            feed[steps.labels_value] = split.labels
        sess.run(steps.load, feed)

    def epochs(self):
        """The epochs still to train (from the one the restored step is in)."""
        per_epoch = self.run.steps_per_epoch
        return range(self.step // per_epoch, math.ceil(self.run.total_steps / per_epoch))

    def epoch(self, sess, epoch, stop):
        """Trains the epoch's remaining batches, or until `stop.signum`; True when the epoch
        was completed."""
        config, total = self.config, self.run.total_steps
        step, report = self.step, self.report
        skip = step - epoch * self.run.steps_per_epoch
        started, images_seen, self.costs = time.monotonic(), 0, []
        # The epoch's order, replayed from the seed when resuming mid-epoch.
        order = self.ds.train.order(seed=_epoch_seed(config.seed, epoch))
        batches = [order[start:start + config.batch_size] for start in
                   range(skip * config.batch_size, len(order), config.batch_size)]
        del batches[max(total - step, 0):]
        last, done = order[:0], 0
        while done < len(batches):
            run = batches[done:done + self._run_length(step, batches, done)]
            step_start = time.monotonic() if self.first_step is None else 0.0
            for cost in self._train(run, step):
                step += 1
                if cost is not None:
                    if not math.isfinite(cost):
                        raise self.run.diverged(step, f"the training cost is {cost}")
                    self.costs.append(cost)
                    if step % SUMMARY_EVERY_STEPS == 0:
                        report.scalar("train/cost", cost, step)
            done += len(run)
            last = run[-1]
            run_images = sum(len(b) for b in run)
            images_seen += run_images
            if self.first_step is None:
                self.first_step = (time.monotonic() - step_start, run_images)
            if step % config.save_every_steps == 0:
                self.step = step
                self.save(sess)
            if step // PROGRESS_CHECK_STEPS != (step - len(run)) // PROGRESS_CHECK_STEPS:
                report.progress(step, total, images_seen, time.monotonic() - started)
            if stop.signum:
                break
        self.step, self.last = step, last
        self.epoch_seconds = time.monotonic() - started
        self.epoch_images = images_seen
        self.images_seen += images_seen
        self.train_seconds += self.epoch_seconds
        return step >= (epoch + 1) * self.run.steps_per_epoch and images_seen > 0

    def _run_length(self, step, batches, done):
        """How many of `batches[done:]` (those still to train this epoch, from global step
        `step`) the next Session.run trains: up to steps_per_run, ending on a checkpoint step,
        and only batches of one size (the epoch's short last batch runs alone)."""
        every = self.config.save_every_steps
        n = min(self.config.steps_per_run, len(batches) - done, every - step % every)
        while n > 1 and len(batches[done + n - 1]) != len(batches[done]):
            n -= 1
        return n

    def _train(self, run, step):
        """Trains the batches `run` from global step `step`; returns each step's cost where it
        is used (every step for kinds that average it over the epoch, else on the TensorBoard
        steps), None where not."""
        wanted = [self.kind.averages_costs or (step + i) % SUMMARY_EVERY_STEPS == 0
                  for i in range(1, len(run) + 1)]
        if self.g.steps is not None:  # even one step: its random ops draw the loop's streams
            batches = np.stack(run).astype(np.int32, copy=False)
            if self.config.xla and self.first_step is None:
                costs = self._first_compiled_run(batches)
            else:
                costs = self._run_steps(batches)
            return [float(c) if w else None for c, w in zip(costs, wanted)]
        batch = self.buffer.fill(run[0])
        if wanted[0]:
            return [float(self._run_step_and_cost(*batch)[1])]
        self._run_step(*batch)
        return [None]

    def _first_compiled_run(self, batches):
        """The session's first run with --xla, traced: says so when TensorFlow compiled none
        of the step (a build without XLA's CPU compiler runs the marked ops as usual)."""
        metadata = tf.RunMetadata()
        costs = self._run_steps(batches, options=tf.RunOptions(
            trace_level=tf.RunOptions.FULL_TRACE), run_metadata=metadata)
        if not step_loop.compiled_ops(metadata):
            self.out(f"--xla: TensorFlow {tf.__version__} compiled none of the step's ops "
                     "(does this build have XLA's CPU compiler?); training runs them "
                     "uncompiled")
        return costs

    def end_epoch(self, sess, epoch):
        """Scores the epoch in the inference copy, draws its frame, records and reports it."""
        ds, folder = self.ds, self.run.folder
        with self.scorer.from_session(sess, self.g.variables) as scoring:
            record = self.kind.epoch_record(scoring, self.scoring_feeder, ds,
                                            ds.train.images[self.last], self.costs)
            if self.config.pictures and self.kind.reconstructs:
                images.save_png(_frame_path(folder, epoch), figures.reconstruction_montage(
                    scoring.run(self.scorer.model.y,
                                self.scoring_feeder(self.kind.examples(ds))),
                    self.run.mean_img), vmin=0.0, vmax=1.0)
        record.update(epoch=epoch, step=self.step,
                      images_per_s=self.epoch_images / self.epoch_seconds)
        bad = [f"{key} {value}" for key, value in record.items()
               if isinstance(value, float) and not math.isfinite(value)]
        if bad:  # before history.json, which holds finite numbers only
            raise self.run.diverged(self.step, f"epoch {epoch}'s {', '.join(bad)}")
        self.history.append(record)
        rundir.save_history(folder, self.history)
        self.out(self.kind.epoch_line(record))
        for key, value in record.items():
            if key not in ("epoch", "step", "images_per_s"):
                self.report.scalar(f"epoch/{key}", value, self.step)

    def save(self, sess):
        """A checkpoint of the current step, once every weight is finite; returns its prefix.

        Raises:
          DivergedError: a non-finite weight (nothing is saved).
        """
        self.run.check_finite(sess, self.g.variables, self.step)
        self.g.global_step.load(self.step, sess)
        rundir.save_meta_graph(self.run.folder, self.g.saver, self.g.graph)
        try:
            return self.g.saver.save(sess, str(self.run.folder / rundir.CHECKPOINT_NAME),
                                     global_step=self.step, write_meta_graph=False)
        except tf.errors.OpError as e:  # a full disk, a folder gone read-only
            raise checkpoints.CheckpointError(
                f"cannot save the checkpoint of step {self.step} in {self.run.folder}: "
                f"{_tf_reason(e)}; the checkpoints already there are intact") from None

    def stop(self, sess, signum):
        """Saves the step reached (unless just saved) and raises Stopped."""
        newest = checkpoints.latest(self.run.folder)
        if newest is None or not newest.endswith(f"-{self.step}"):
            newest = self.save(sess)
        self.report.close()
        raise Stopped(f"stopped at step {self.step}/{self.run.total_steps} by "
                      f"{signal.Signals(signum).name}, {Path(newest).name} saved; run the same "
                      "command to resume", signum)

    def finish(self, sess):
        """Saves, scores the test split and draws; returns the run's result (see `train`)."""
        final = self.save(sess)
        with self.scorer.from_session(sess, self.g.variables) as scoring:
            test = evaluate(scoring, self.scoring_feeder, self.ds.test)
            pictures = _draw(scoring, self.kind, self.scoring_feeder, self.ds, self.history,
                             self.run.folder) if self.config.pictures else {}
        self.report.scalar(f"test/{self.kind.test_metric.removeprefix('test_')}", test,
                           self.step)
        if self.report.writer is not None and not self.history:
            self.out(f"TensorBoard: no epoch/ scalars, since no epoch ended (one is "
                     f"{self.run.steps_per_epoch} steps, the run stopped at step {self.step}); "
                     f"train/cost has one point every {SUMMARY_EVERY_STEPS} steps and "
                     f"test/{self.kind.test_metric.removeprefix('test_')} the final score")
        self.report.close()
        if test is not None:
            self.out(self.run.final_line(test))
        seconds = self.train_seconds
        return dict(model=self.config.model, hparams=self.run.hparams, steps=self.step,
                    total_steps=self.run.total_steps, epochs=self.history, test=test,
                    test_metric=self.kind.test_metric, checkpoint=final, pictures=pictures,
                    images_per_s=self.images_seen / seconds if seconds else None,
                    steady_images_per_s=_steady_rate(self.images_seen, seconds,
                                                     self.first_step),
                    train_seconds=seconds)


def _tf_reason(error):
    """The line of a TensorFlow OpError's message that says what went wrong (it comes wrapped
    in where the op was defined and, for a full disk, a misleading out-of-memory hint)."""
    lines = [line.strip() for line in error.message.splitlines()]
    said = [line for line in lines if line and not line.startswith(
        ("Graph execution error", "Detected at node", "File ", "Node:", "[[", "Hint:"))]
    return said[-1] if said else lines[0]


def _steady_rate(images_seen, seconds, first_step):
    """Images/s after the session's first step (None when there was no other step)."""
    if first_step is None or images_seen <= first_step[1] or seconds <= first_step[0]:
        return None
    return (images_seen - first_step[1]) / (seconds - first_step[0])


def _frame_path(folder, epoch):
    return folder / rundir.PICTURES / "epochs" / f"reconstruction_{epoch:03d}.png"


def _draw(sess, kind, feeder, ds, history, folder):
    """The reconstruction GIF of every epoch's frame, and the kind's own pictures."""
    out_dir = folder / rundir.PICTURES
    paths = {}
    frames = [images.load_gray(p) for p in (_frame_path(folder, r["epoch"]) for r in history)
              if p.is_file()]
    if frames:
        paths["reconstruction"], paths["reconstruction_gif"] = figures.save_reconstructions(
            frames, out_dir, "reconstruction")
    paths.update(kind.draw(sess, feeder, ds, out_dir))
    return paths
