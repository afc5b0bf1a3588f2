"""Shared fixtures: the real, verified MNIST files (fetched once by `make test`)."""

import pytest

from cadl_graph import sources


@pytest.fixture(scope="session")
def mnist_paths():
    """Paths of the four verified raw MNIST files from the default chain (cache first)."""
    return sources.fetch_mnist()


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite golden/*.txt from the graphs built now (review `git diff golden/`)")


@pytest.fixture(scope="session")
def update_goldens(request):
    return request.config.getoption("--update-goldens")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.getoption("--update-goldens"):
        terminalreporter.write_line(
            "Goldens rewritten: review every changed line with `git diff golden/` and say why "
            "in the commit message.", yellow=True)
