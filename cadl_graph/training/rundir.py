"""A training run's folder: what it holds, how it is read back, and who may write to it.

    <train_dir>/
      run.json                  what the run is: model, hparams, batch_size, seed, epochs, split
      input_mean.npy            tied autoencoders: the mean image subtracted from every input
      history.json              one record per finished epoch, kept across resumes
      checkpoint                TensorFlow's state file (relative paths, so the folder moves)
      model.ckpt.meta           the run's graph (a MetaGraphDef), written once, never rotated
      model.ckpt-<step>.index   Saver checkpoints (and .data-00000-of-00001)
      pictures/                 reconstructions per epoch, weights, manifolds
      .lock                     locked by the process training here; holds its PID

Promises kept here and in `cadl_graph.training.checkpoints`:
- every file is written atomically (`cadl_graph.fileio`), and what an interrupted write left
  (`.<name>.tmp-*`, TensorFlow's `*.tempstate*` and `checkpoint.tmp*`) is removed, and said
  to be, when the next run takes the folder;
- one trainer at a time: `lock` takes an exclusive `flock` on `.lock` (the kernel drops it
  when the holder dies, even by SIGKILL, so it never goes stale) and refuses a second trainer
  with the holder's PID;
- a folder holds one run: `claim` refuses a run.json of another model or recipe;
- nothing is read back silently wrong: a damaged run.json, history or mean image is an error
  that names the file.
"""

import contextlib
import dataclasses
import errno
import fcntl
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Optional

import numpy as np

from cadl_graph import fileio, graphfile
from cadl_graph.errors import Error
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints
from cadl_graph.training.scoring import Scorer

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
HISTORY_FILE = "history.json"
MEAN_FILE = "input_mean.npy"
LOCK_FILE = ".lock"
CHECKPOINT_NAME = "model.ckpt"
PICTURES = "pictures"
# What a run must agree on to resume a folder's checkpoints.
IDENTITY = ("model", "hparams", "batch_size", "seed")
# Files that only an interrupted write leaves: ours, TensorFlow's bundle writer's, and its
# state-file writer's.
LEFTOVERS = (f"*{fileio.TEMP_MARKER}*", "*.tempstate*", f"{checkpoints.STATE_FILE}.tmp*")


def save_meta_graph(folder, saver, graph):
    """Writes `graph` with `saver`'s SaverDef as <folder>/model.ckpt.meta, unless a resumed
    run's is there already: one meta graph serves every checkpoint of the run (training saves
    checkpoints with write_meta_graph=False), and `cadl-graph diff_graph` reads it."""
    path = Path(folder) / graphfile.RUN_META_GRAPH
    if not path.exists():
        with graph.as_default():
            meta_graph = saver.export_meta_graph()
        fileio.atomic_write_bytes(path, meta_graph.SerializeToString())
    return path


class RunFolderError(Error, RuntimeError):
    """A run folder cannot be used as asked (another run's, in use, or damaged)."""


def _read_json(path, what):
    """The JSON value in `path`, or None when there is no such file (a file holding `null` is
    damaged, not absent)."""
    try:
        value = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path} is not valid JSON ({e}); it is the {what}. Restore it, or "
                             "use another --train_dir") from None
    if value is None:
        raise _damaged(path, what, "holds null")
    return value


def _damaged(path, what, problem):
    return RunFolderError(f"{path} {problem}; it is the {what}. Restore it, or use another "
                          "--train_dir")


# The types run.json's entries must have (it is read back to rebuild and resume the model).
_RUN_TYPES = {"model": str, "hparams": dict, "batch_size": int, "seed": int}


def _read_run_json(folder):
    """The run.json in `folder` as a dict, or None when there is none.

    Raises:
      RunFolderError: run.json is damaged.
    """
    path = Path(folder) / RUN_FILE
    run = _read_json(path, "run's description")
    if run is None:
        return None
    if not (isinstance(run, dict) and all(k in run for k in IDENTITY)):
        raise _damaged(path, "run's description", f"lacks one of {', '.join(IDENTITY)}")
    wrong = [f"{key} is {type(run[key]).__name__}, not {kind.__name__}"
             for key, kind in _RUN_TYPES.items() if key in run and
             (not isinstance(run[key], kind) or isinstance(run[key], bool))]
    if wrong:
        raise _damaged(path, "run's description", f"is damaged: {'; '.join(wrong)}")
    return run


def claim(folder, run):
    """Writes run.json for `run`, refusing a folder that holds a different run.

    Raises:
      RunFolderError: the saved run differs in model, hyperparameters, batch size or seed.
    """
    saved = _read_run_json(folder)
    if saved is not None:
        differs = [f"{k}: saved {saved.get(k)!r}, now {run[k]!r}" for k in IDENTITY
                   if saved.get(k) != run[k]]
        if differs:
            raise RunFolderError(
                f"{folder} holds a run that differs from this one, so its checkpoints cannot "
                "be resumed:\n  " + "\n  ".join(differs) +
                "\nUse another --train_dir, or the same flags as the saved run.")
    fileio.atomic_write_bytes(Path(folder) / RUN_FILE,
                              json.dumps(run, indent=2, sort_keys=True).encode())


def save_mean(folder, mean_img):
    with fileio.atomic_path(Path(folder) / MEAN_FILE) as tmp:
        np.save(tmp, np.asarray(mean_img, np.float32))


def load_mean(folder):
    """The mean image float32 [784] saved in `folder`.

    Raises:
      RunFolderError: missing or damaged.
    """
    path = Path(folder) / MEAN_FILE
    try:
        mean = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing: the autoencoder was trained on x - mean_img "
                             "and scoring or exporting it needs that mean") from None
    except (ValueError, OSError, EOFError) as e:
        raise RunFolderError(f"{path} is damaged ({e}); rerun the training command to write "
                             "it again") from None
    if mean.dtype != np.float32 or mean.ndim != 1:
        raise RunFolderError(f"{path} holds {mean.dtype} {list(mean.shape)}, not a float32 "
                             "image vector; rerun the training command to write it again")
    return mean


def load_history(folder):
    """The per-epoch records in `folder` (empty when none yet).

    Raises:
      RunFolderError: history.json is damaged.
    """
    path = Path(folder) / HISTORY_FILE
    history = _read_json(path, "per-epoch history")
    if history is None:
        return []
    if not isinstance(history, list) or not all(
            isinstance(r, dict) and all(type(r.get(k)) is int for k in ("epoch", "step"))
            for r in history):
        raise _damaged(path, "per-epoch history", "is not a list of epoch records, each with "
                       "an integer epoch and step")
    return history


def save_history(folder, history):
    """Writes history.json; strict JSON, so a non-finite number is a ValueError, not `NaN`."""
    fileio.atomic_write_bytes(Path(folder) / HISTORY_FILE,
                              json.dumps(history, indent=1, allow_nan=False).encode())


def clean_leftovers(folder):
    """Removes what interrupted writes left in `folder` and its subfolders; returns the paths."""
    removed = []
    for pattern in LEFTOVERS:
        for path in sorted(Path(folder).rglob(pattern)):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def lock(folder):
    """Holds the folder's exclusive lock while the block runs.

    Raises:
      RunFolderError: another process holds it (the message gives its PID).
    """
    path = Path(folder) / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunFolderError(
                f"{folder} is in use by another training process (PID {holder}); wait for it "
                "to finish, or use another --train_dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclasses.dataclass(frozen=True)
class SavedRun:
    """A finished or interrupted run, as its folder describes it.

    Attributes:
      prefix: the checkpoint to use (the newest intact one, or the one asked for).
      model, hparams, seed: from run.json.
      mean_img: float32 [784] for models fed `x - mean_img`, else None.
    """

    prefix: str
    model: str
    hparams: dict
    seed: int
    mean_img: Optional[np.ndarray]

    @contextlib.contextmanager
    def restore(self):
        """The model rebuilt in a fresh inference graph and restored, for scoring.

            saved = rundir.open_run("runs/lecture/conv_classifier")
            with saved.restore() as (sess, feeder):
                accuracy = scoring.evaluate(sess, feeder, ds.test)

        Yields:
          (session, `scoring.Feeder` of the restored model).

        Raises:
          CheckpointError: the checkpoint does not fit the model its run.json names.
        """
        scorer = Scorer(self.model, self.hparams, seed=self.seed)
        with scorer.from_checkpoint(self.prefix) as sess:
            yield sess, scorer.feeder(self.mean_img)


def open_run(checkpoint, model=None):
    """The run that saved `checkpoint` (a prefix, or a train folder): the one way to read a
    run folder back.

    Args:
      model: the registry model the caller expects. Required when no run.json lies beside the
        checkpoint (then the model's lecture hyperparameters are assumed); else checked.

    Raises:
      checkpoints.CheckpointError: no usable checkpoint there.
      RunFolderError: no run.json and no `model`, a run of another model, a damaged run.json,
        or a missing or damaged mean image.
    """
    prefix = checkpoints.resolve(checkpoint)
    folder = Path(prefix).parent
    run = _read_run_json(folder)
    if run is None:
        if model is None:
            raise RunFolderError(f"no {RUN_FILE} beside {prefix} says which model it holds; "
                                 "name the model (--model)")
        if registry.get(model).subtracts_mean:
            raise RunFolderError(f"{model} was trained on x - mean_img, and no {RUN_FILE} and "
                                 f"{MEAN_FILE} beside {prefix} say which mean")
        return SavedRun(prefix=prefix, model=model, hparams=registry.hparams(model), seed=0,
                        mean_img=None)
    if model is not None and model != run["model"]:
        raise RunFolderError(f"{prefix} was saved by a {run['model']} run, not {model}")
    mean = load_mean(folder) if registry.get(run["model"]).subtracts_mean else None
    return SavedRun(prefix=prefix, model=run["model"], hparams=run["hparams"],
                    seed=run["seed"], mean_img=mean)
