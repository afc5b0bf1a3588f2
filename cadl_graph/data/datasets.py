"""The course's dataset API: `MNIST()` and the `Dataset` it returns.

    from cadl_graph.data.datasets import MNIST
    ds = MNIST()                      # 70000 images, all in ds.train
    ds.X.shape                        # (70000, 784), float32 in [0, 1]
    ds = MNIST(one_hot=True, split=[0.8, 0.1, 0.1])
    for batch_xs, batch_ys in ds.train.next_batch(50): ...

`Dataset` shuffles its data once, when it is built, then cuts the shuffled data into contiguous
train / valid / test ranges, so the splits never overlap (an old version of the course library
let the test split overlap train, which inflated the lecture's printed test accuracies).

`cadl-graph fetch_mnist` fetches and verifies the files (see `cadl_graph.data.sources` for where
from) and prints where they are.
"""

import math

import numpy as np

from cadl_graph.data import idx, sources

IMAGE_SIZE = 28
N_FEATURES = IMAGE_SIZE * IMAGE_SIZE
N_CLASSES = 10
# TF1's read_data_sets kept the first 5000 training images as its validation split; the course
# concatenated train (5000-59999), validation (0-4999) and test in that order.
TF1_VALIDATION_SIZE = 5000


def dense_to_one_hot(labels, n_classes=None):
    """Integer labels [N] to one-hot float32 [N, n_classes] (default: max label + 1)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"one-hot encoding needs a 1-D array of integer labels, got {labels.dtype} "
            f"with shape {labels.shape}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be >= 0 for one-hot encoding, found {labels.min()}")
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= n_classes:
        raise ValueError(f"label {labels.max()} does not fit in {n_classes} classes")
    one_hot = np.zeros((labels.size, n_classes), dtype=np.float32)
    one_hot[np.arange(labels.size), labels] = 1.0
    return one_hot


class DatasetSplit:
    """One split of a Dataset: `.images`, `.labels`, `.num_examples`, `next_batch()`.

    Attributes:
      images: float32 [N, ...] (views into the parent Dataset's arrays, not copies).
      labels: [N] int or float32 [N, n_classes] one-hot, or None for unlabelled data.
      num_examples: N.
    """

    def __init__(self, images, labels, rng):
        self.images = images
        self.labels = labels
        self.num_examples = len(images)
        self._rng = rng

    def next_batch(self, batch_size=100, seed=None):
        """Yields (images, labels) batches covering the split once, in a fresh random order.

        Each call draws a new permutation, so every epoch sees the data in a different order;
        the last batch holds the remainder when `batch_size` does not divide the split. Labels
        are None for unlabelled data.

        Args:
          batch_size: examples per batch.
          seed: fixes this epoch's order (a training run that resumes mid-epoch replays the
            same order); None draws it from the Dataset's generator.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        order = self.order(seed)
        for start in range(0, self.num_examples, batch_size):
            batch = order[start:start + batch_size]
            yield self.images[batch], None if self.labels is None else self.labels[batch]

    def order(self, seed=None):
        """A fresh random order of the split's examples: the order `next_batch` walks.

        Args:
          seed: fixes the order; None draws it from the Dataset's generator.

        Returns:
          int array [num_examples], a permutation.
        """
        rng = self._rng if seed is None else np.random.default_rng(seed)
        return rng.permutation(self.num_examples)


class Dataset:
    """Inputs (and optional labels), shuffled once and cut into train / valid / test.

    Args:
      Xs: array [N, ...] of inputs.
      ys: optional array [N] of integer labels (or [N, K] already one-hot).
      split: fractions [train, valid, test], each >= 0, summing to at most 1. Each split's
        size is round(fraction * N).
      one_hot: encode integer `ys` as float32 one-hot rows.
      n_classes: number of classes for one-hot (default: max label + 1).
      seed: seeds the shuffle and every `next_batch` order; None draws fresh entropy.
    """

    def __init__(self, Xs, ys=None, split=(1.0, 0.0, 0.0), one_hot=False, n_classes=None,
                 seed=None):
        Xs = np.asarray(Xs)
        split = _check_split(split)
        if ys is not None:
            ys = np.asarray(ys)
            if len(ys) != len(Xs):
                raise ValueError(f"{len(Xs)} inputs but {len(ys)} labels; they must match")
            if one_hot:
                ys = dense_to_one_hot(ys, n_classes)
        self.split = split
        self._rng = np.random.default_rng(seed)
        order = self._rng.permutation(len(Xs))
        self.all_inputs = Xs[order]
        self.all_labels = None if ys is None else ys[order]

        sizes = [round(fraction * len(Xs)) for fraction in split]
        bounds = np.cumsum([0] + sizes)
        self._ranges = {
            name: (int(bounds[i]), int(min(bounds[i + 1], len(Xs))))
            for i, name in enumerate(("train", "valid", "test"))
        }
        self._splits = {}

    @property
    def X(self):
        """All inputs, shuffled: [N, ...]."""
        return self.all_inputs

    @property
    def Y(self):
        """All labels in the same order as X, or None."""
        return self.all_labels

    def _split(self, name):
        if name not in self._splits:
            start, stop = self._ranges[name]
            labels = None if self.all_labels is None else self.all_labels[start:stop]
            self._splits[name] = DatasetSplit(self.all_inputs[start:stop], labels, self._rng)
        return self._splits[name]

    @property
    def train(self):
        return self._split("train")

    @property
    def valid(self):
        return self._split("valid")

    @property
    def test(self):
        return self._split("test")

    def mean(self):
        """Mean over all examples (every split): an array shaped like one input."""
        return np.mean(self.all_inputs, axis=0)

    def std(self):
        """Standard deviation over all examples (every split)."""
        return np.std(self.all_inputs, axis=0)


def _check_split(split):
    try:
        if isinstance(split, str) or len(split) != 3:
            raise TypeError
        split = tuple(float(x) for x in split)
    except (TypeError, ValueError):
        raise ValueError(
            f"split must be three fractions [train, valid, test], got {split!r}") from None
    if any(not math.isfinite(x) or x < 0 for x in split) or sum(split) > 1 + 1e-9:
        raise ValueError(
            f"split fractions must be >= 0 and sum to at most 1, got {list(split)}"
        )
    return split


def load_mnist_arrays(data_dir=None, cache_dir=None):
    """The course's ordering of MNIST as arrays, from verified files.

    Returns:
      (images, labels): float32 [70000, 784] in [0, 1] and uint8 [70000], ordered as TF1's
      train split (train file 5000-59999), then its validation split (train file 0-4999), then
      the 10000 test images.
    """
    paths = sources.fetch_mnist(data_dir=data_dir, cache_dir=cache_dir)
    train_x, train_y = idx.read_images_and_labels(
        paths[sources.TRAIN_IMAGES], paths[sources.TRAIN_LABELS])
    test_x, test_y = idx.read_images_and_labels(
        paths[sources.TEST_IMAGES], paths[sources.TEST_LABELS])
    v = TF1_VALIDATION_SIZE
    images = np.concatenate([train_x[v:], train_x[:v], test_x]).reshape(-1, N_FEATURES)
    labels = np.concatenate([train_y[v:], train_y[:v], test_y])
    return images.astype(np.float32) / np.float32(255.0), labels


def MNIST(one_hot=True, split=(1.0, 0.0, 0.0), seed=None, data_dir=None, cache_dir=None):  # noqa: N802  (the course's name)
    """The course's MNIST: a `Dataset` of 70000 images [784] in [0, 1] with digit labels.

    Args:
      one_hot: labels as float32 [N, 10] one-hot rows (True) or integers [N] (False).
      split: [train, valid, test] fractions; the default puts everything in train.
      seed: seeds the shuffle and batch orders; None draws fresh entropy.
      data_dir: a directory holding the four IDX files to use before the cache.
      cache_dir: where fetched files are kept (see `cadl_graph.data.sources`).
    """
    images, labels = load_mnist_arrays(data_dir=data_dir, cache_dir=cache_dir)
    return Dataset(images, labels.astype(np.int64), split=split, one_hot=one_hot,
                   n_classes=N_CLASSES, seed=seed)
