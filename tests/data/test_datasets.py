import math

import numpy as np
import pytest

from cadl_graph.data import idx, sources
from cadl_graph.data.datasets import MNIST, Dataset, dense_to_one_hot, load_mnist_arrays


@pytest.fixture(scope="module")
def mnist_arrays():
    return load_mnist_arrays()


def test_real_mnist_is_70000_float_images_in_unit_range(mnist_arrays):
    images, labels = mnist_arrays
    assert images.shape == (70000, 784) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.shape == (70000,)


def test_real_mnist_label_facts(mnist_paths):
    train = idx.read_idx(mnist_paths[sources.TRAIN_LABELS], idx.LABELS_MAGIC)
    test = idx.read_idx(mnist_paths[sources.TEST_LABELS], idx.LABELS_MAGIC)
    assert np.bincount(train)[:3].tolist() == [5923, 6742, 5958]
    assert test[0] == 7


def test_course_order_is_tf1_train_then_validation_then_test(mnist_paths, mnist_arrays):
    images, labels = mnist_arrays
    train_x, train_y = idx.read_images_and_labels(
        mnist_paths[sources.TRAIN_IMAGES], mnist_paths[sources.TRAIN_LABELS])
    np.testing.assert_array_equal(images[0] * 255, train_x[5000].reshape(-1))
    np.testing.assert_array_equal(images[55000] * 255, train_x[0].reshape(-1))
    assert labels[:55000].tolist() == train_y[5000:].tolist()
    assert labels[55000:60000].tolist() == train_y[:5000].tolist()
    assert labels[60000] == 7


def test_mnist_one_hot_labels_and_course_split(mnist_arrays):
    ds = MNIST(one_hot=True, split=[0.8, 0.1, 0.1], seed=0)
    assert ds.X.shape == (70000, 784)
    assert ds.Y.shape == (70000, 10) and ds.Y.dtype == np.float32
    assert (ds.Y.sum(axis=1) == 1).all() and set(np.unique(ds.Y)) == {0.0, 1.0}
    sizes = [ds.train.num_examples, ds.valid.num_examples, ds.test.num_examples]
    assert sizes == [56000, 7000, 7000]
    assert ds.train.images.shape == (56000, 784) and ds.train.labels.shape == (56000, 10)
    assert ds.mean().shape == (784,) and ds.std().shape == (784,)
    # Integer labels when asked, and the shuffle kept images and labels together.
    dense = MNIST(one_hot=False, seed=0)
    np.testing.assert_array_equal(dense.X, ds.X)
    np.testing.assert_array_equal(dense.Y, ds.Y.argmax(axis=1))


def test_splits_are_disjoint_and_cover_contiguous_ranges():
    ds = Dataset(np.arange(70000), np.arange(70000) % 10, split=[0.8, 0.1, 0.1], seed=3)
    parts = [set(ds.train.images), set(ds.valid.images), set(ds.test.images)]
    assert [len(p) for p in parts] == [56000, 7000, 7000]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    np.testing.assert_array_equal(ds.test.labels, ds.test.images % 10)


def test_same_seed_same_split_other_seed_other_split():
    data = np.arange(1000)
    a, b, c = (Dataset(data, split=[0.5, 0.5, 0.0], seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.train.images, b.train.images)
    assert not np.array_equal(a.train.images, c.train.images)
    assert a.Y is None and a.train.labels is None


def test_next_batch_covers_an_epoch_with_a_partial_last_batch():
    ds = Dataset(np.arange(1050), np.arange(1050), seed=0)
    epoch = list(ds.train.next_batch())
    assert len(epoch) == math.ceil(1050 / 100)
    assert [len(x) for x, _ in epoch] == [100] * 10 + [50]
    seen = np.concatenate([x for x, _ in epoch])
    assert sorted(seen.tolist()) == list(range(1050))
    assert all(np.array_equal(x, y) for x, y in epoch)  # pairs stay together
    again = np.concatenate([x for x, _ in ds.train.next_batch()])
    assert not np.array_equal(seen, again)  # reshuffled each epoch
    assert [len(x) for x, _ in ds.train.next_batch(batch_size=500)] == [500, 500, 50]


def test_one_hot_handles_any_number_of_classes():
    np.testing.assert_array_equal(
        dense_to_one_hot(np.array([2, 0, 1])), np.eye(3, dtype=np.float32)[[2, 0, 1]])
    assert dense_to_one_hot(np.array([0, 4]), n_classes=7).shape == (2, 7)
    ds = Dataset(np.zeros((6, 2)), np.array([0, 1, 2, 3, 4, 2]), one_hot=True, seed=0)
    assert ds.Y.shape == (6, 5) and (ds.Y.sum(axis=1) == 1).all()


@pytest.mark.parametrize("split", [[0.8, 0.1], [0.8, 0.3, 0.1], [1.2, 0, 0], [-0.1, 0.5, 0.5],
                                   "abc"])
def test_bad_split_is_rejected(split):
    with pytest.raises(ValueError, match="split"):
        Dataset(np.zeros((10, 2)), split=split)


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="10 inputs but 9 labels"):
        Dataset(np.zeros((10, 2)), np.zeros(9, np.int64))
    with pytest.raises(ValueError, match="does not fit in 3 classes"):
        dense_to_one_hot(np.array([0, 3]), n_classes=3)
    with pytest.raises(ValueError, match="integer labels"):
        dense_to_one_hot(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="batch_size"):
        next(Dataset(np.zeros((10, 2)), seed=0).train.next_batch(0))
