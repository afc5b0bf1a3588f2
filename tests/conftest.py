"""Shared fixtures: the real, verified MNIST files (fetched once by `make test`)."""

import pytest

from cadl_graph import sources


@pytest.fixture(scope="session")
def mnist_paths():
    """Paths of the four verified raw MNIST files from the default chain (cache first)."""
    return sources.fetch_mnist()
