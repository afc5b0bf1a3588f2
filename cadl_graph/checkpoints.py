"""Saver checkpoints: find them, check them against a graph, restore or initialise.

TensorFlow's V2 checkpoints are written safely already: the Saver writes the data and index
to temporary names and renames them, and rewrites the `checkpoint` state file atomically, so a
process killed mid-save leaves the previous checkpoints listed and loadable. What it does not
do is explain failures; this module does (DESIGN §7): which prefix or folder was searched,
and which variables differ between a graph and a checkpoint.
"""

import os
from pathlib import Path

from cadl_graph.compat import tf


class CheckpointError(RuntimeError):
    """A checkpoint is missing or does not fit the graph."""


def resolve(path):
    """A checkpoint prefix from a prefix or a train folder.

    Args:
      path: `train_dir/model.ckpt-1200` (a prefix) or `train_dir` (its latest checkpoint).

    Returns:
      the prefix (str).

    Raises:
      CheckpointError: nothing loadable there; the message names what was searched.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            raise CheckpointError(
                f"no checkpoint in folder {path}: it has no 'checkpoint' state file naming a "
                "saved model; train first (scripts/train.py --train_dir=...) or pass a "
                "checkpoint prefix such as <dir>/model.ckpt-1200")
        return prefix
    if tf.train.checkpoint_exists(path):
        return path
    parent = Path(path).parent
    near = sorted(p.name[:-len(".index")] for p in parent.glob("*.index")) if parent.is_dir() else []
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


def all_checkpoints(train_dir):
    """Every prefix the folder's state file lists, oldest first (empty if none)."""
    state = tf.train.get_checkpoint_state(os.fspath(train_dir))
    return list(state.all_model_checkpoint_paths) if state else []
