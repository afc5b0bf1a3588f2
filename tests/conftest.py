"""Shared fixtures: the real, verified MNIST files (fetched once by `make test`), and the
project's goldens checked the way anyone's are.

`--update-goldens`, the `update_goldens` fixture and `GraphGolden` come from the package's own
pytest plugin (cadl_graph/golden/pytest_plugin.py), which pip registers through an entry point.
"""

import pytest

from cadl_graph.data import sources
from cadl_graph.golden import listing
from cadl_graph.golden.pytest_plugin import GraphGolden


@pytest.fixture
def project_golden(update_goldens, written_goldens):
    """The plugin's golden check, with paths relative to the repository's golden/ folder and
    the regenerate command of this checkout."""
    return GraphGolden(listing.GOLDEN_DIR, update_goldens, listing.REGENERATE, written_goldens)


@pytest.fixture(scope="session")
def mnist_paths():
    """Paths of the four verified raw MNIST files from the default chain (cache first)."""
    return sources.fetch_mnist()
