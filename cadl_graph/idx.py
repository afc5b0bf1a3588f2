"""Strict reader for the IDX files MNIST ships in (raw or gzip-compressed).

IDX layout (all integers big-endian):

    bytes 0-1  zero
    byte  2    element type (0x08 = unsigned byte, the only type MNIST uses)
    byte  3    number of dimensions
    then       one uint32 per dimension, then the data, row-major

MNIST's magic numbers are therefore 2049 (0x00000801, labels: count) and 2051 (0x00000803,
images: count, rows, cols). Every check names the file, so a user knows which download to redo.
"""

import gzip
import os
import struct
import zlib

import numpy as np

LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051
_NDIM = {LABELS_MAGIC: 1, IMAGES_MAGIC: 3}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """A file is not the IDX file it was expected to be."""


def read_bytes(path):
    """Returns the decompressed contents of `path`, gunzipping when it starts with gzip's magic.

    Compression is detected from the bytes, not the file name, so a `.gz` that was already
    decompressed (or a raw file saved with a `.gz` name) still reads.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise IdxError(
                f"{path}: looks gzip-compressed but does not decompress ({e}); "
                "the download is probably truncated or corrupt: delete it and fetch again"
            ) from None
    return data


def parse_idx(data, name="<bytes>", expected_magic=None):
    """Parses IDX bytes into a uint8 array.

    Args:
      data: the decompressed file contents.
      name: what to call the data in error messages (usually its path).
      expected_magic: LABELS_MAGIC or IMAGES_MAGIC to insist on, or None to accept either.

    Returns:
      uint8 array of shape [count] (labels) or [count, rows, cols] (images).

    Raises:
      IdxError: empty or short data, an unknown or unexpected magic number, or a payload whose
        size disagrees with the header.
    """
    if not data:
        raise IdxError(f"{name}: file is empty; expected an IDX file")
    if len(data) < 4:
        raise IdxError(f"{name}: {len(data)} bytes is too short for an IDX header")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in _NDIM:
        raise IdxError(
            f"{name}: magic number {magic} (0x{magic:08x}) is not an MNIST IDX file; "
            f"expected {LABELS_MAGIC} (labels) or {IMAGES_MAGIC} (images)"
        )
    if expected_magic is not None and magic != expected_magic:
        raise IdxError(
            f"{name}: magic number {magic}, expected {expected_magic} "
            f"({'labels' if expected_magic == LABELS_MAGIC else 'images'}); "
            "are the image and label files swapped?"
        )
    ndim = _NDIM[magic]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxError(
            f"{name}: header needs {header_size} bytes for {ndim} dimension(s), "
            f"file has {len(data)}"
        )
    dims = struct.unpack(">" + "I" * ndim, data[4:header_size])
    expected = header_size + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise IdxError(
            f"{name}: header says shape {list(dims)} ({expected} bytes in all), "
            f"file has {len(data)} bytes; the file is truncated or padded: fetch it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def read_idx(path, expected_magic=None):
    """Reads one IDX file (raw or gzip). See `parse_idx` for the result and errors."""
    return parse_idx(read_bytes(path), name=os.fspath(path), expected_magic=expected_magic)


def encode_idx(array):
    """Encodes a uint8 array [count] (labels) or [count, rows, cols] (images) as IDX bytes.

    The inverse of `parse_idx`: for writing small MNIST-format files (tests, exports of a
    subset for the C++ loader).
    """
    array = np.asarray(array)
    magic = {1: LABELS_MAGIC, 3: IMAGES_MAGIC}.get(array.ndim)
    if magic is None or array.dtype != np.uint8:
        raise ValueError(
            f"IDX encoding takes uint8 labels [N] or images [N, rows, cols], got {array.dtype} "
            f"with shape {array.shape}"
        )
    header = struct.pack(">I" + "I" * array.ndim, magic, *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def read_images_and_labels(images_path, labels_path):
    """Reads a matching pair of IDX files.

    Returns:
      (images, labels): uint8 [N, rows, cols] and uint8 [N].

    Raises:
      IdxError: either file is invalid, or their counts differ.
    """
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise IdxError(
            f"{images_path} has {len(images)} images but {labels_path} has "
            f"{len(labels)} labels; the two files must come from the same set"
        )
    return images, labels
