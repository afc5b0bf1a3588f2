"""What a training run is, whichever process trains it: its settings, data, steps and report.

    from cadl_graph.training import session
    run = session.prepare(session.TrainConfig(model="conv_classifier"))
    run.claim()                       # run.json (and the mean image) in run.folder
    print(run.total_steps, run.final_line(0.9768))

One process (`cadl_graph.training.loop`) and each worker of a cluster
(`cadl_graph.training.cluster`) start from the same `Run`: the same resolved settings, the same
dataset and mean image, the same step count, the same run.json, and end with the same line.
"""

import contextlib
import dataclasses
import errno
import logging
import math
import os
import signal
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from cadl_graph.data.datasets import MNIST, Dataset
from cadl_graph.errors import ConfigError, Error
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints, kinds, rundir

log = logging.getLogger(__name__)

SAVE_EVERY_STEPS = 1000   # checkpoint period (and always at the end)
KEEP_CHECKPOINTS = 5      # how many recent checkpoints the Saver keeps


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
      steps_per_run: training steps per Session.run; 1 is the course's loop, more run them in
        a tf.while_loop over the training split held in the graph
        (`cadl_graph.training.step_loop`).
      xla: compile the loop's step with XLA (`tf.xla.experimental.jit_scope`); trains through
        the loop with any steps_per_run. Faster on the compute-bound models, but the fused
        arithmetic rounds differently, so the weights differ from the course's loop in the
        last bits (its held-out metric agrees to float noise).
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
    steps_per_run: int = 1
    xla: bool = False
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
                          ("save_every_steps", 1), ("keep_checkpoints", 1),
                          ("steps_per_run", 1)):
            value = getattr(config, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < low):
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("train_dir", "logdir"):
            path = getattr(config, name)
            if path is not None:
                _check_folder(Path(path), f"--{name}")
        return config


def _check_folder(path, flag):
    """Refuses a folder flag that names a file, a dangling link or a link loop (mkdir would
    say only 'File exists')."""
    if path.is_symlink() and not path.exists():
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ConfigError(f"{flag} {path} is a symbolic link loop; name a folder"
                                  ) from None
        raise ConfigError(f"{flag} {path} is a link to {os.readlink(path)}, which does not "
                          "exist; create that folder, or name another")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file; name a folder (it is created when "
                          "missing)")


def load_dataset(model, seed=0, data_dir=None):
    """The MNIST Dataset a registry model trains on (its split, one-hot labels)."""
    return MNIST(one_hot=True, split=registry.get(model).split, seed=seed, data_dir=data_dir)


@dataclasses.dataclass(frozen=True)
class Run:
    """A training run, resolved: what every process of it agrees on.

    Attributes:
      config: the TrainConfig with every default filled in.
      hparams: the model's hyperparameters, checked.
      ds: the Dataset it trains on.
      mean_img: float32 [784] subtracted from every input (the tied autoencoders), or None.
      steps_per_epoch: batches in one pass over the whole train split.
      total_steps: the global step at which training ends.
    """

    config: TrainConfig
    hparams: dict
    ds: Dataset
    mean_img: Optional[np.ndarray]
    steps_per_epoch: int
    total_steps: int

    @property
    def folder(self):
        return Path(self.config.train_dir)

    @property
    def kind(self):
        return kinds.of(self.config.model)

    @contextlib.contextmanager
    def taken(self, **extra):
        """Holds the run folder for this process, the one way a trainer (single-process or a
        cluster's chief) takes it: its lock (a second trainer of either kind is refused with
        the holder's PID), what interrupted writes left removed and said, run.json claimed.

        Yields:
          the newest intact checkpoint to resume from (`checkpoints.latest`: damaged state
          files and checkpoints are warned about and passed over), or None.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        with rundir.lock(self.folder):
            for path in rundir.clean_leftovers(self.folder):
                log.warning("removed %s, left by an interrupted write", path)
            self.claim(**extra)
            yield checkpoints.latest(self.folder)

    def claim(self, **extra):
        """Makes the run folder this run's: run.json (plus `extra` entries) and the mean image.

        Raises:
          RunFolderError: the folder holds another run.
        """
        c = self.config
        self.folder.mkdir(parents=True, exist_ok=True)
        rundir.claim(self.folder, dict(model=c.model, hparams=self.hparams,
                                       batch_size=c.batch_size, seed=c.seed, epochs=c.epochs,
                                       split=list(self.ds.split), **extra))
        if self.mean_img is not None:  # scoring and exports need the mean it was trained around
            rundir.save_mean(self.folder, self.mean_img)

    def check_finite(self, sess, variables, step):
        """Raises DivergedError (see `diverged`) when a variable holds a non-finite value:
        called before every checkpoint, by one process and by a cluster's chief."""
        for variable, value in zip(variables, sess.run(variables)):
            if not np.all(np.isfinite(value)):
                bad = np.size(value) - np.count_nonzero(np.isfinite(value))
                raise self.diverged(step, f"{variable.op.name} holds {bad} non-finite values")

    def diverged(self, step, what):
        """The DivergedError that ends the run: `what` went non-finite by `step`; what is kept
        and what to try."""
        newest = checkpoints.latest(self.folder)
        kept = (f"the newest checkpoint, {Path(newest).name}, is finite and kept"
                if newest else "no checkpoint was saved")
        return DivergedError(
            f"training diverged by step {step}: {what}. Nothing non-finite was saved; {kept}. "
            f"Try a smaller learning rate (now {self.hparams.get('learning_rate')}; "
            "--learning_rate) in a new --train_dir")

    def final_line(self, test, note=""):
        """The line that ends a run: its held-out metric."""
        return (f"{self.config.model}: {self.kind.test_metric.replace('_', ' ')} {test:.6f} on "
                f"{self.ds.test.num_examples} held-out images{note}")


class DivergedError(Error, ArithmeticError):
    """Training produced a non-finite cost or weight; nothing non-finite was saved."""


class StopSignals:
    """While active, SIGINT and SIGTERM only record themselves (`signum`): a training loop
    stops at the end of its current step, saves and raises `errors.Stopped`. Outside the main
    thread, where Python cannot take signals, it records nothing and changes nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum, self._previous = None, {}

    def _record(self, signum, frame):
        del frame
        self.signum = self.signum or signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._record) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def prepare(config, ds=None):
    """Resolves `config` and loads what the run needs (the dataset unless `ds` is given).

    Raises:
      ConfigError, HparamError: bad settings (checked before any data is read).
    """
    config = config.resolved()
    hparams = registry.hparams(config.model, **config.hparams)
    ds = ds if ds is not None else load_dataset(config.model, config.seed, config.data_dir)
    steps_per_epoch = math.ceil(ds.train.num_examples / config.batch_size)
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    mean_img = ds.mean() if registry.get(config.model).subtracts_mean else None
    return Run(config, hparams, ds, mean_img, steps_per_epoch, total)
