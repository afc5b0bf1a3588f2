import gzip
import struct

import numpy as np
import pytest

from cadl_graph import idx


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
