import gzip
import struct

import numpy as np
import pytest

from cadl_graph.data import idx


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)


@pytest.fixture
def labels():
    return np.arange(5, dtype=np.uint8)


def test_reads_raw_and_gzip_files(tmp_path, images, labels):
    raw = _write(tmp_path / "images", idx.encode_idx(images))
    gz = _write(tmp_path / "images.gz", gzip.compress(idx.encode_idx(images)))
    np.testing.assert_array_equal(idx.read_idx(raw, idx.IMAGES_MAGIC), images)
    np.testing.assert_array_equal(idx.read_idx(gz, idx.IMAGES_MAGIC), images)
    got = idx.read_idx(_write(tmp_path / "labels", idx.encode_idx(labels)))
    assert got.dtype == np.uint8 and got.tolist() == labels.tolist()


def test_pair_reader_returns_matching_arrays(tmp_path, images, labels):
    x, y = idx.read_images_and_labels(
        _write(tmp_path / "i", idx.encode_idx(images)),
        _write(tmp_path / "l", idx.encode_idx(labels)))
    assert x.shape == (5, 4, 3) and y.shape == (5,)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x00\x00", "too short"),
    (struct.pack(">I", 2050) + b"\x00" * 8, "magic number 2050"),
    (struct.pack(">II", 2051, 5), "header needs 16 bytes"),
    (struct.pack(">IIII", 2051, 5, 4, 3) + b"\x00" * 59, "truncated or padded"),
    (struct.pack(">IIII", 2051, 5, 4, 3) + b"\x00" * 61, "truncated or padded"),
    (b"\x1f\x8b" + b"garbage that is not deflate", "does not decompress"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, data, message):
    path = _write(tmp_path / "bad-file", data)
    with pytest.raises(idx.IdxError, match=message) as err:
        idx.read_idx(path)
    assert str(path) in str(err.value)


def test_truncated_gzip_is_rejected(tmp_path, images):
    whole = gzip.compress(idx.encode_idx(images))
    path = _write(tmp_path / "cut.gz", whole[: len(whole) // 2])
    with pytest.raises(idx.IdxError, match="cut.gz"):
        idx.read_idx(path)


def test_labels_where_images_are_expected_is_named(tmp_path, labels):
    path = _write(tmp_path / "labels", idx.encode_idx(labels))
    with pytest.raises(idx.IdxError, match="expected 2051 \\(images\\)"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


def test_image_and_label_count_mismatch(tmp_path, images):
    image_path = _write(tmp_path / "i", idx.encode_idx(images))
    label_path = _write(tmp_path / "l", idx.encode_idx(np.zeros(4, np.uint8)))
    with pytest.raises(idx.IdxError, match="has 5 images but .* has 4 labels"):
        idx.read_images_and_labels(image_path, label_path)


def test_encode_rejects_what_idx_cannot_hold():
    with pytest.raises(ValueError, match="uint8"):
        idx.encode_idx(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        idx.encode_idx(np.zeros(3, np.float32))


def test_a_lying_header_is_refused_before_anything_is_decompressed(tmp_path):
    """A small .gz whose header claims 4e9 images: refused by arithmetic, not by reading."""
    import tracemalloc
    import zlib
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    data = packer.compress(struct.pack(">IIII", idx.IMAGES_MAGIC, 4_000_000_000, 28, 28))
    data += b"".join(packer.compress(b"\x00" * (1 << 20)) for _ in range(64)) + packer.flush()
    path = _write(tmp_path / "bomb.gz", data)
    tracemalloc.start()
    with pytest.raises(idx.IdxError, match=r"3136000000016 bytes in all.*gzip file holds at most"):
        idx.read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20, peak
    overflow = _write(tmp_path / "overflow", struct.pack(">IIII", idx.IMAGES_MAGIC, *[2**32 - 1] * 3))
    with pytest.raises(idx.IdxError, match="truncated or padded"):
        idx.read_idx(overflow)


def _mutations(rng, base):
    """One mutated copy of `base`: flipped bits, new header words, cut or grown tails."""
    data = bytearray(base)
    for _ in range(rng.integers(1, 4)):
        how = rng.integers(5)
        if how == 0 and data:  # flip a bit anywhere
            i = rng.integers(len(data))
            data[i] ^= 1 << rng.integers(8)
        elif how == 1 and len(data) >= 16:  # a random header word (magic or a dimension)
            i = 4 * rng.integers(4)
            data[i:i + 4] = struct.pack(">I", int(rng.integers(2**32)))
        elif how == 2:  # truncate
            del data[rng.integers(len(data) + 1):]
        elif how == 3:  # append junk
            data += rng.integers(0, 256, rng.integers(1, 64), dtype=np.uint8).tobytes()
        else:  # a huge dimension, the kind that overflows a product
            i = 4 + 4 * rng.integers(3)
            data[i:i + 4] = struct.pack(">I", int(rng.integers(2**31, 2**32)))
    return bytes(data)


def test_fuzzed_idx_files_raise_only_idx_error_within_bounded_memory(tmp_path):
    """3000 seeded mutations of raw and gzip IDX files: a parsed array or an IdxError, never
    another exception, and never more memory than a real file of the size."""
    import tracemalloc
    rng = np.random.default_rng(2026)
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    bases = [idx.encode_idx(images), idx.encode_idx(images[:, 0, 0])]
    path = tmp_path / "fuzzed"
    outcomes = {"parsed": 0, "IdxError": 0}
    tracemalloc.start()
    for i in range(3000):
        data = _mutations(rng, bases[i % 2])
        if i % 3 == 0:  # compress the mutant, or mutate the compressed bytes
            data = gzip.compress(data) if i % 2 else _mutations(rng, gzip.compress(bases[0]))
        path.write_bytes(data)
        try:
            array = idx.read_idx(path)
        except idx.IdxError:
            outcomes["IdxError"] += 1
        else:
            assert array.dtype == np.uint8
            outcomes["parsed"] += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"fuzzed IDX files: {outcomes}, peak traced memory {peak / 1e6:.1f} MB")
    assert outcomes["IdxError"] > 2000 and outcomes["parsed"] > 0
    assert peak < 10 * len(bases[0]) + (1 << 20)
