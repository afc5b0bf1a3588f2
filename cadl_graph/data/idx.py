"""Strict reader for the IDX files MNIST ships in (raw or gzip-compressed).

IDX layout (all integers big-endian):

    bytes 0-1  zero
    byte  2    element type (0x08 = unsigned byte, the only type MNIST uses)
    byte  3    number of dimensions
    then       one uint32 per dimension, then the data, row-major

MNIST's magic numbers are therefore 2049 (0x00000801, labels: count) and 2051 (0x00000803,
images: count, rows, cols). Every check names the file, so a user knows which download to redo.

A file is never trusted before its header is: the header is read first (through a streaming
decompressor for `.gz`), and a payload larger than the file could possibly hold is refused
before anything is decompressed or allocated. Sizes are Python integers, so no product of
dimensions can overflow.
"""

import gzip
import io
import math
import os
import struct
import zlib

import numpy as np

from cadl_graph import fileio
from cadl_graph.errors import Error

LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051
_NDIM = {LABELS_MAGIC: 1, IMAGES_MAGIC: 3}
_GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot expand one byte of input into more than 1032 bytes of output, so a gzip file
# of n bytes holds at most 1032 * n bytes.
MAX_DEFLATE_RATIO = 1032


class IdxError(Error, ValueError):
    """A file is not the IDX file it was expected to be."""


def _read_header(stream, name, expected_magic):
    """Reads and checks the header from a binary stream.

    Returns:
      (header bytes, dims).
    """
    head = stream.read(4)
    if not head:
        raise IdxError(f"{name}: file is empty; expected an IDX file")
    if len(head) < 4:
        raise IdxError(f"{name}: {len(head)} bytes is too short for an IDX header")
    (magic,) = struct.unpack(">I", head)
    if magic not in _NDIM:
        raise IdxError(
            f"{name}: magic number {magic} (0x{magic:08x}) is not an MNIST IDX file; "
            f"expected {LABELS_MAGIC} (labels) or {IMAGES_MAGIC} (images)")
    if expected_magic is not None and magic != expected_magic:
        raise IdxError(
            f"{name}: magic number {magic}, expected {expected_magic} "
            f"({'labels' if expected_magic == LABELS_MAGIC else 'images'}); "
            "are the image and label files swapped?")
    ndim = _NDIM[magic]
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise IdxError(f"{name}: header needs {4 + 4 * ndim} bytes for {ndim} dimension(s), "
                       f"file has {4 + len(sizes)}")
    return head + sizes, struct.unpack(">" + "I" * ndim, sizes)


def _size_error(name, dims, total, found):
    return IdxError(
        f"{name}: header says shape {list(dims)} ({total} bytes in all), file has {found} "
        "bytes; the file is truncated or padded: fetch it again")


def read_bytes(path, expected_magic=None):
    """The decompressed contents of the IDX file at `path`, header checked first.

    Compression is detected from the bytes, not the file name, so a `.gz` that was already
    decompressed (or a raw file saved with a `.gz` name) still reads. The payload the header
    promises is checked against what the file can hold (its size, or 1032 times its size when
    compressed) before it is read, so a lying header costs nothing.

    Raises:
      IdxError: as `parse_idx`, or a gzip stream that does not decompress.
    """
    name = os.fspath(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as e:
        raise IdxError(f"{name}: cannot be read ({e.strerror})") from None
    with raw:
        size = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            header, dims = _read_header(stream, name, expected_magic)
            total = len(header) + math.prod(dims)
            capacity = size * MAX_DEFLATE_RATIO if compressed else size
            if total > capacity and not compressed:
                raise _size_error(name, dims, total, size)
            if total > capacity:
                raise IdxError(f"{name}: header says shape {list(dims)} ({total} bytes in all), "
                               f"but a {size}-byte gzip file holds at most {capacity}; the file "
                               "is corrupt: fetch it again")
            payload = stream.read(total - len(header) + 1)  # one more byte reveals padding
        except (OSError, EOFError, zlib.error) as e:
            raise IdxError(
                f"{name}: looks gzip-compressed but does not decompress ({e}); "
                "the download is probably truncated or corrupt: delete it and fetch again"
            ) from None
    data = header + payload
    if len(data) != total:
        found = f"at least {len(data)}" if len(data) > total else str(len(data))
        raise _size_error(name, dims, total, found)
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
    header, dims = _read_header(io.BytesIO(data), name, expected_magic)
    total = len(header) + math.prod(dims)
    if len(data) != total:
        raise _size_error(name, dims, total, len(data))
    return np.frombuffer(data, dtype=np.uint8, offset=len(header)).reshape(dims)


def read_idx(path, expected_magic=None):
    """Reads one IDX file (raw or gzip). See `parse_idx` for the result and errors."""
    return parse_idx(read_bytes(path, expected_magic), name=os.fspath(path),
                     expected_magic=expected_magic)


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


def to_pixels(images, side):
    """Images float [N, side * side] in [0, 1] as MNIST's pixels: uint8 [N, side, side]."""
    images = np.asarray(images)
    return np.round(images * 255).astype(np.uint8).reshape(len(images), side, side)


def write_idx(path, array):
    """Writes `array` (as `encode_idx` takes it) to `path` atomically; returns the path."""
    return fileio.atomic_write_bytes(path, encode_idx(array))


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
