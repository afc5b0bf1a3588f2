"""What every absl script of the project does the same way (DESIGN §8).

    def main(argv):
        cli.no_arguments(argv)
        return cli.run(lambda: lecture.run(FLAGS.out_dir, ...))

Expected failures (bad data, a missing checkpoint, an export that cannot be made) become one
`logging.error` line and exit status 1; anything else is a bug and keeps its traceback.
"""

import json

from absl import app, logging

from cadl_graph.checkpoints import CheckpointError
from cadl_graph.sources import FetchError
from cadl_graph.train import TrainError

# The package's own errors are these or subclass ValueError (IdxError, ExportError,
# GraphFileError); OSError covers files that cannot be read or written.
EXPECTED_ERRORS = (FetchError, TrainError, CheckpointError, ValueError, OSError)


def no_arguments(argv):
    """Rejects positional arguments: every input is a flag."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


def run(job):
    """Runs `job()`; returns the exit status (1 after logging an expected error)."""
    try:
        job()
    except EXPECTED_ERRORS as e:
        logging.error("%s", e)
        return 1
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
                                 "(e.g. true, 0.1, [1.0])") from None
    return values
