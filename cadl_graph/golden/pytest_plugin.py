"""A pytest plugin that pins a TF1 graph in a golden file: installed with cadl_graph.

`pip install cadl_graph` registers it (entry point `pytest11`), so any project can write:

    import tensorflow.compat.v1 as tf

    def test_my_graph(graph_golden):
        with tf.Graph().as_default() as graph:
            build_my_model()                      # placeholders, variables, minimize, ...
        graph_golden.check(graph, "goldens/my_model.ops.txt")

The path is relative to the test file. The first run fails and says how to create the golden:
`pytest --update-goldens` writes every golden the run checks (review them, then commit).
From then on any change to an op's name, type, output shapes, inputs, defining attributes or
small constant values fails with the differences listed by scope. `check` also takes a
GraphDef (a frozen `.pb` loaded with `cadl_graph.graphfile.load_graph_def`). Two lists of op
names, scopes or fnmatch patterns narrow it: `opaque=` names constants whose values are
results (trained weights), pinned by dtype and shape only; `ignore=` leaves ops out
(`ignore=["save"]` for a Saver's ops). A bare string, or a pattern that matches no op, is an
error that names it.

TensorFlow is imported only when a test calls `check`, so the plugin costs nothing elsewhere.
"""

from pathlib import Path

import pytest

UPDATE_FLAG = "--update-goldens"
# The goldens this run wrote, as (path, "created" | "changed" | "unchanged"), for the summary.
WRITTEN = pytest.StashKey[list]()


def pytest_addoption(parser):
    parser.getgroup("cadl_graph").addoption(
        UPDATE_FLAG, action="store_true", default=False,
        help="rewrite the golden files the tests check from the graphs built now "
             "(then review them with git diff)")


@pytest.fixture(scope="session")
def update_goldens(request):
    """True when the run was asked to rewrite goldens (`pytest --update-goldens`)."""
    return request.config.getoption(UPDATE_FLAG)


class GraphGolden:
    """Checks graphs against golden files next to a test (see the module docstring)."""

    def __init__(self, base_dir, update, regenerate, written=None):
        self.base_dir = Path(base_dir)
        self.update = update
        self.regenerate = regenerate
        self.written = [] if written is None else written  # (path, what happened to it)

    def check(self, graph, path, title=None, opaque=(), hparams=None, ignore=()):
        """Compares `graph` (a tf.Graph or GraphDef) with the golden at `path`; fails the test
        with the differences, or rewrites the file under --update-goldens.

        Raises:
          TypeError, ValueError: `opaque` or `ignore` is a bare string, or holds a pattern
            that matches no op.
        """
        from cadl_graph.compat import tf
        from cadl_graph.golden import listing  # imports TensorFlow

        live = isinstance(graph, tf.Graph)
        names = ([op.name for op in graph.get_operations()] if live
                 else [node.name for node in graph.node])
        opaque = listing.matching(names, opaque, "opaque")
        ignored = listing.matching(names, ignore, "ignore")
        lines = listing.op_lines(graph, opaque) if live else listing.graph_def_lines(graph, opaque)
        lines = [line for line in lines if line.split("\t", 1)[0] not in ignored]
        path = self.base_dir / path
        if self.update:
            text = listing.render(title or path.stem.split(".")[0], hparams or {}, lines,
                                  regenerate=self.regenerate)
            before = path.read_text(encoding="utf-8") if path.is_file() else None
            path.parent.mkdir(parents=True, exist_ok=True)
            listing.write(path, text)
            self.written.append((path, "created" if before is None else
                                 "unchanged" if before == text else "changed"))
            return
        problem = listing.compare(path, lines, regenerate=self.regenerate)
        if problem:
            pytest.fail(problem, pytrace=False)


@pytest.fixture
def written_goldens(request):
    """The run's list of the goldens written under --update-goldens (shared by fixtures)."""
    return request.config.stash.setdefault(WRITTEN, [])


@pytest.fixture
def graph_golden(request, update_goldens, written_goldens):
    """A GraphGolden whose relative paths start at the test file's folder; its hints name the
    command that reruns this very test with --update-goldens."""
    return GraphGolden(Path(str(request.fspath)).parent, update_goldens,
                       f"pytest {request.node.nodeid} {UPDATE_FLAG}", written_goldens)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    del exitstatus
    if not config.getoption(UPDATE_FLAG):
        return
    written = config.stash.get(WRITTEN, [])
    for path, what in written:
        if what != "unchanged":
            terminalreporter.write_line(f"golden {what}: {path}", yellow=True)
    counts = {what: sum(w == what for _, w in written)
              for what in ("created", "changed", "unchanged")}
    terminalreporter.write_line(
        f"Goldens written: {counts['created']} created, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged. Review every changed line (git diff) and say why "
        "in the commit message.", yellow=True)
