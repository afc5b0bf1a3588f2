"""What every absl command of the project does the same way.

    FLAGS = cli.define_data_dir()

    def main(argv):
        cli.no_arguments(argv)
        return cli.run(lambda: lecture.run_lecture(FLAGS.out_dir, ...))

The package's own errors (`cadl_graph.errors.Error`: bad data, a missing checkpoint, an export
that cannot be made, a bad hyperparameter) become one `logging.error` line and exit status 1
(a clean stop on SIGINT or SIGTERM, `errors.Stopped`, one warning line and 128 + the signal),
and so do the machine's refusals (`OSError`: a full disk, a read-only folder, a path through a
file or a dangling link, each naming the path); anything else is a bug and keeps its
traceback (and absl's `--pdb_post_mortem`). A help flag (`--help`, `--helpfull`, ...)
exits 0, where absl alone exits 1. Flags that several commands share are defined
here, once, with one help text; `start` runs a command.
"""

import functools
import json
import os
import signal
import sys
from pathlib import Path

from absl import app, flags, logging

from cadl_graph.errors import Error, Stopped

FLAGS = flags.FLAGS


def define_data_dir():
    """Defines --data_dir (the MNIST folder tried before the cache); returns FLAGS."""
    flags.DEFINE_string(
        "data_dir", None,
        "Folder holding the four MNIST IDX files (raw or .gz), tried before the cache "
        "(default: $CADL_GRAPH_DATA_DIR, else the cache, the mirrors and npm).")
    return FLAGS


def define_hparam():
    """Defines the repeatable --hparam=NAME=VALUE flag; read it with `hparams()`."""
    flags.DEFINE_multi_string(
        "hparam", [], "NAME=VALUE (VALUE in JSON) overriding a registry hyperparameter, e.g. "
        "--hparam=init_stddev=0.1 or --hparam='batch_norm_update=\"in_cond\"'.")
    return FLAGS


def hparams():
    """The --hparam values as {name: value}."""
    return assignments(FLAGS.hparam, "hparam")


def no_arguments(argv):
    """Rejects positional arguments: every input is a flag."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


def only_with(flag_names, needed, set_=None):
    """Refuses each of `flag_names` given on the command line unless `needed` (a flag name)
    is set: a flag that would be ignored is an error, not a silent no-op.

    Args:
      set_: whether `needed` counts as set (default: its value is truthy).

    Raises:
      app.UsageError: naming the first such flag and what it needs.
    """
    is_set = bool(FLAGS[needed].value) if set_ is None else set_
    for name in flag_names:
        if FLAGS[name].present and not is_set:
            raise app.UsageError(f"--{name} applies only with --{needed}")


def start(main, doc, required=(), flags_parser=None):
    """Runs a command's `main` under absl, however it was started (`cadl-graph NAME`,
    `python -m cadl_graph.commands.NAME` or scripts/NAME.py): --help prints `doc`, the
    command module's docstring, since absl prints the docstring of `__main__`."""
    sys.modules["__main__"].__doc__ = doc
    # --help lists the flags absl filed under sys.argv[0]; it files a flag under the module
    # that defined it, so add the command module's and the shared ones defined here.
    by_module = FLAGS.flags_by_module_dict()
    shown = {id(flag) for flag in by_module.get(sys.argv[0], [])}
    for module in (main.__module__, __name__):
        for flag in by_module.get(module, []):
            if id(flag) not in shown:
                FLAGS.register_flag_by_module(sys.argv[0], flag)
                shown.add(id(flag))
    flags.mark_flags_as_required(list(required))
    try:
        app.run(functools.partial(_quiet_ends, main),
                **({"flags_parser": flags_parser} if flags_parser else {}))
    except SystemExit as e:
        # absl ends every help flag with status 1; help that was asked for is a success, as in
        # argparse, so `cmd --help && ...` and scripts probing a command work.
        if e.code == 1 and asked_for_help(sys.argv[1:]):
            raise SystemExit(0) from None
        raise


# absl's help flags, each with one dash or two, and -? (absl has no -h: a usage error).
HELP_FLAGS = {"-?", *(dashes + name for dashes in ("-", "--")
                      for name in ("help", "helpshort", "helpfull", "helpxml"))}


def asked_for_help(args):
    """Whether `args` (a command line without the program) holds one of absl's help flags
    before any `--`."""
    for arg in args:
        if arg == "--":
            return False
        if arg in HELP_FLAGS:
            return True
    return False


def _quiet_ends(main, argv):
    """`main(argv)`, where a reader that stopped early (`| head`) ends the command quietly and
    Ctrl-C where nothing handles it (reading data, building a graph) is one line, exit 130."""
    try:
        return main(argv)
    except BrokenPipeError:
        # Python would report the broken pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        logging.warning("interrupted (Ctrl-C); nothing was left half-written")
        return 128 + signal.SIGINT


def optional_file(flag):
    """The value of a file flag whose default may not exist yet (the C++ loader before
    `make cc`), or None when it is that default and missing: the caller says what it skips.
    A missing file given on the command line is an error."""
    path = FLAGS[flag].value
    if FLAGS[flag].present and not Path(path).is_file():
        raise app.UsageError(f"--{flag}={path}: no such file")
    return path if path and Path(path).is_file() else None


def run(job, error_status=1):
    """Runs `job()`; returns the exit status: `error_status` after logging one of the
    package's errors or an OSError, 128 + the signal after a clean stop, else 0."""
    try:
        job()
    except Stopped as e:
        logging.warning("%s", e)
        return e.exit_status
    except Error as e:
        logging.error("%s", e)
        return error_status
    except OSError as e:  # the machine refused: a full disk, permissions, a bad path
        logging.error("%s", e)
        return error_status
    return 0


def assignments(items, flag):
    """['name=JSON', ...] from a repeated flag as {name: value}.

    Raises:
      app.UsageError: an item without '=' or a name, or a value that is not JSON (say `true`,
        `0.1`, `[1.0]`, `"text"`); the message names the flag.
    """
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise app.UsageError(f"--{flag} takes NAME=VALUE, got {item!r}")
        try:
            values[name] = json.loads(value)
        except ValueError:
            raise app.UsageError(f"--{flag} {name}: {value!r} is not a JSON value "
                                 "(e.g. true, 0.1, [1.0], \"text\")") from None
    return values
