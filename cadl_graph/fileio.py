"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

Caches, pictures, checkpoints and exports all go through here. The new content is written to a
temporary file in the destination's own directory (so the final `os.replace` stays on one file
system and is atomic), flushed to disk, and only then renamed over the destination. A process
killed midway leaves at most a `.<name>.tmp-*` file that nothing ever loads.
"""

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_MARKER = ".tmp-"


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; the final file should get the mode
# an ordinary open() would have given it.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write; on success it replaces `path`, on error it vanishes.

    For writers that insist on a file name (image and GIF encoders, TensorFlow's own writers):

        with atomic_path("out.png") as tmp:
            encoder.save(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}{TEMP_MARKER}", suffix=path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, _FILE_MODE)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path, data):
    """Writes `data` to `path` atomically and returns `path` as a Path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
