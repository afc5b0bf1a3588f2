"""MNIST from verified files, and the course's Dataset.

  idx        the IDX file format: strict reader (raw or gzip) and writer
  sources    where the four MNIST files come from, each checked by SHA-256
  datasets   the course's MNIST() and Dataset: splits, batches, one-hot labels

Imports no TensorFlow.
"""
