"""The package's own errors: each message says what was wrong and what to do about it.

Every error this package raises on purpose derives from `Error`. The scripts turn these, and
only these, into one `error:` line and exit status 1 (`cadl_graph.cli.run`); anything else is a
bug and keeps its traceback. Each module defines its own subclass next to the code that raises
it (`IdxError` in `idx`, `CheckpointError` in `checkpoints`, ...); most also derive from the
built-in class a caller would expect (`ValueError` for bad values, `RuntimeError` for a state
that cannot go on).
"""


class Error(Exception):
    """An expected failure with a message meant for the user."""


class ConfigError(Error, ValueError):
    """A setting (flag, hyperparameter, argument) has a value that cannot work."""


class Stopped(Error):
    """The user stopped the work (SIGINT, SIGTERM) and it stopped cleanly: the message says what
    was kept. Commands exit with 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.exit_status = 128 + signum
