"""Shared fixtures: the real, verified MNIST files (fetched once by `make test`).

`--update-goldens` and the `update_goldens` fixture come from the package's own pytest plugin
(cadl_graph/pytest_plugin.py), which pip registers through an entry point.
"""

import pytest

from cadl_graph.data import sources


@pytest.fixture(scope="session")
def mnist_paths():
    """Paths of the four verified raw MNIST files from the default chain (cache first)."""
    return sources.fetch_mnist()
