"""Saver checkpoints: find them on disk, check them, restore them into a graph.

TensorFlow's Saver writes a checkpoint's data and index to temporary names and renames them,
and rewrites the `checkpoint` state file atomically, so a process killed mid-save leaves the
previous checkpoints loadable. What it does not do is survive what happens to a folder later:
its state file may hold absolute paths (a moved or copied folder then points elsewhere), may be
damaged, or may name a checkpoint that is gone; a file may be truncated by a full disk.
TensorFlow's `latest_checkpoint` then returns None, and a trainer silently starts over.

So checkpoints are found here by the files actually in the folder (`<name>-<step>.index`), the
newest first, and each is read whole before it is trusted (every tensor, which also checks the
bundle's CRCs). The state file is only consulted to say what disagrees with the disk. Every
fallback says what failed first; when nothing usable is left where checkpoints clearly were,
`latest` refuses instead of returning None. Errors name what was searched and, for a graph
that does not fit, each variable that differs.
"""

import logging
import os
import re
from pathlib import Path

from google.protobuf import text_format

from cadl_graph.compat import tf
from cadl_graph.errors import Error

log = logging.getLogger(__name__)

STATE_FILE = "checkpoint"
_PREFIX = re.compile(r"^(?P<base>.+)-(?P<step>\d+)\.index$")


class CheckpointError(Error, RuntimeError):
    """A checkpoint is missing, damaged, or does not fit the graph."""


def on_disk(folder):
    """[(step, prefix)] of every `<name>-<step>.index` in `folder`, oldest first."""
    found = []
    for index in Path(folder).glob("*.index"):
        match = _PREFIX.match(index.name)
        if match:
            found.append((int(match["step"]), str(index)[:-len(".index")]))
    return sorted(found)


def damage(prefix):
    """Why the checkpoint at `prefix` cannot be restored (one line), or None when it can.

    Reads every tensor: a zero-length or garbage index fails to open, a truncated data file or
    a flipped bit fails its read or its CRC.
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, RuntimeError, IndexError) as e:  # IndexError: a
        # truncated data file ("Read less bytes than requested")
        return str(getattr(e, "message", e)).strip().splitlines()[0]
    return None


def state_file_names(folder):
    """The checkpoint file names the state file lists (newest last), or None if unreadable.

    Only the names count: a moved folder's state file may hold another folder's paths.
    """
    # The state file's message type, which TensorFlow's public API does not export (imported
    # here, after cadl_graph.compat has imported TensorFlow quietly).
    from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

    path = Path(folder) / STATE_FILE
    if not path.is_file():
        return []
    try:
        state = text_format.Parse(path.read_text(), CheckpointState())
    except (text_format.ParseError, UnicodeDecodeError, ValueError):
        return None
    names = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
    latest = os.path.basename(state.model_checkpoint_path)
    return [n for n in names if n != latest] + ([latest] if latest else [])


def latest(folder):
    """The newest intact checkpoint in `folder` (a prefix), or None for a folder that never had
    one.

    Logs a warning when the state file is damaged or disagrees with the disk, and when a newer
    checkpoint is damaged (naming it and the one used instead).

    Raises:
      CheckpointError: checkpoints were there, but none is intact (or all the state file
        names are gone): the run cannot go on without losing it silently.
    """
    folder = Path(folder)
    found = on_disk(folder)
    listed = state_file_names(folder)
    if listed is None:
        log.warning("the checkpoint state file %s is damaged; looking for checkpoints by their "
                    "files instead", folder / STATE_FILE)
    broken = []
    for step, prefix in reversed(found):
        problem = damage(prefix)
        if problem is not None:
            broken.append(f"{Path(prefix).name} ({problem})")
            continue
        if broken:
            log.warning("checkpoint %s is damaged; using the newest intact one, %s (step %d)",
                        "; ".join(broken), Path(prefix).name, step)
        if listed and listed[-1] != Path(prefix).name and not broken:
            log.warning("the state file %s names %s as the latest, but the newest checkpoint in "
                        "the folder is %s (step %d); using that", folder / STATE_FILE,
                        listed[-1], Path(prefix).name, step)
        return prefix
    if broken:
        raise CheckpointError(
            f"every checkpoint in {folder} is damaged: {'; '.join(broken)}. Restore them from a "
            "backup, or use another --train_dir to start afresh")
    if listed:
        raise CheckpointError(
            f"the state file {folder / STATE_FILE} lists {', '.join(listed)}, but no checkpoint "
            f"files are in {folder}: were they deleted or moved? Put them back, or use another "
            "--train_dir to start afresh")
    return None


def resolve(path):
    """A checkpoint prefix from a prefix or a train folder.

    Args:
      path: `train_dir/model.ckpt-1200` (a prefix) or `train_dir` (its newest intact one).

    Returns:
      the prefix (str).

    Raises:
      CheckpointError: nothing loadable there; the message names what was searched.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        prefix = latest(path)
        if prefix is None:
            raise CheckpointError(
                f"no checkpoint in folder {path}: it holds no <name>-<step>.index file; train "
                "first (cadl-graph train --train_dir=...) or pass a checkpoint prefix such as "
                "<dir>/model.ckpt-1200")
        return prefix
    if os.path.isfile(f"{path}.index"):
        problem = damage(path)
        if problem is not None:
            raise CheckpointError(f"checkpoint {path} is damaged: {problem}")
        return path
    parent = Path(path).parent
    near = [Path(p).name for _, p in on_disk(parent)] if parent.is_dir() else []
    hint = f"; prefixes there: {', '.join(near)}" if near else ""
    raise CheckpointError(
        f"checkpoint prefix {path} not found (looked for {path}.index){hint}. A prefix is the "
        "path without .index/.data-*, e.g. train_dir/model.ckpt-1200, or pass the folder")


def variable_mismatch(prefix, var_list):
    """Differences between a checkpoint and the variables a Saver would restore.

    Returns:
      list of human-readable lines, empty when every variable is in the checkpoint with the
      same shape (variables only in the checkpoint are fine: a graph may use a subset).
    """
    saved = dict(tf.train.list_variables(prefix))
    problems = []
    for var in var_list:
        name, shape = var.op.name, var.shape.as_list()
        if name not in saved:
            problems.append(f"  {name} {shape}: not in the checkpoint")
        elif list(saved[name]) != shape:
            problems.append(f"  {name}: graph {shape}, checkpoint {list(saved[name])}")
    return problems


def restore(sess, saver, prefix, var_list):
    """Restores `var_list` from `prefix` after checking that they match.

    Raises:
      CheckpointError: listing each variable that is missing or shaped differently.
    """
    problems = variable_mismatch(prefix, var_list)
    if problems:
        raise CheckpointError(
            f"checkpoint {prefix} does not fit this graph ({len(problems)} variable(s)):\n"
            + "\n".join(problems)
            + "\nWas it saved from another model or other hyperparameters? Use a fresh "
              "--train_dir or the matching --model.")
    saver.restore(sess, prefix)
