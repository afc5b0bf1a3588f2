"""Golden op listings: one line per op, to pin a graph's structure in a plain-text file.

Format, UTF-8 with `\\n` line ends:

    # header lines start with '#' and are not compared
    name<TAB>type<TAB>shapes

`shapes` lists each output's static shape as `[?,28,28,1]` (`?` = unknown dimension),
`<unknown>` for unknown rank, `;` between outputs, and `-` for an op with no outputs. Lines
follow `graph.get_operations()`, i.e. creation order.
"""

import difflib
import importlib.resources
import json
from pathlib import Path

from cadl_graph import fileio, shapes
from cadl_graph.compat import tf

FORMAT_VERSION = 1
# The repository's golden/ folder, which the package ships as cadl_graph.golden_files (in an
# editable install this is the checkout's folder, so --update-goldens rewrites it).
GOLDEN_DIR = Path(str(importlib.resources.files("cadl_graph.golden_files")))
REGENERATE = "make test PYTEST_ARGS=--update-goldens"


def op_line(op):
    outputs = ";".join(shapes.text(shapes.dims(t.shape)) for t in op.outputs) or "-"
    return f"{op.name}\t{op.type}\t{outputs}"


def op_lines(graph):
    """The golden lines of every op in `graph`, in creation order."""
    return [op_line(op) for op in graph.get_operations()]


def graph_def_lines(graph_def):
    """The golden lines of a GraphDef (e.g. a frozen export), imported without a prefix."""
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    return op_lines(graph)


def golden_path(name, kind="ops"):
    return GOLDEN_DIR / f"{name}.{kind}.txt"


def render(name, hparams, lines, tf_version):
    """The full text of a golden file: header, then `lines`."""
    header = [
        f"# cadl_graph golden op listing, format {FORMAT_VERSION}",
        f"# model: {name}",
        f"# builder arguments: {json.dumps(hparams, sort_keys=True)}",
        f"# tensorflow: {tf_version}",
        f"# ops: {len(lines)}",
        f"# regenerate: {REGENERATE}",
        "# columns: name<TAB>type<TAB>output shapes",
    ]
    return "\n".join(header + list(lines)) + "\n"


def parse(text):
    """The op lines of a golden file's text (header and blank lines dropped)."""
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def write(path, text):
    fileio.atomic_write_bytes(path, text.encode("utf-8"))


def compare(path, lines):
    """Compares `lines` with the golden at `path`.

    Returns:
      None when they match, else a message: the golden is missing, or a unified diff
      (golden first) followed by the regenerate command.
    """
    path = Path(path)
    if not path.is_file():
        return f"golden file {path} is missing; create it with:\n  {REGENERATE}"
    expected = parse(path.read_text(encoding="utf-8"))
    if expected == list(lines):
        return None
    diff = difflib.unified_diff(expected, list(lines), fromfile=str(path),
                                tofile="built graph", lineterm="", n=2)
    return (f"graph differs from {path} "
            f"({len(expected)} golden ops, {len(lines)} built):\n" + "\n".join(diff) +
            f"\nIf the change is intended, regenerate and review `git diff golden/`:\n"
            f"  {REGENERATE}")
