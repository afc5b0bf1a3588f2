"""Compare any two TF1 graphs the way the goldens compare them.

    from cadl_graph.golden import graphdiff
    report = graphdiff.compare("model.pb", "golden/conv_autoencoder.ops.txt",
                               ignore=["gradients/"])
    print("\\n".join(report) or "same")

A graph is given as a binary or text GraphDef (`.pb`, `.pbtxt`), a Saver's `.meta`, a golden
file (`.txt`, as `cadl_graph.golden.listing` writes them), or the name of a registry model. Both are
reduced to golden lines (name, type, shapes, inputs, attributes, small constant values) and the
differences are reported by scope. `ignore` drops ops before comparing: a pattern with
`*`, `?` or `[` is matched against op names (fnmatch); any other pattern names a scope, so
`gradients` or `gradients/` drops `gradients/...` but keeps `gradients_1/...`.
"""

from pathlib import Path

from cadl_graph import graphfile
from cadl_graph.errors import ConfigError
from cadl_graph.golden import listing
from cadl_graph.graphs import registry


def lines_of(source, opaque=()):
    """The golden lines of a graph source (see the module docstring).

    Raises:
      ConfigError: neither an existing file nor a registry model.
      GraphFileError: a file that is not a graph.
    """
    path = Path(source)
    if path.is_file() and path.suffix == ".txt":
        return listing.parse(path.read_text(encoding="utf-8"))
    if path.exists():
        return listing.graph_def_lines(graphfile.load_graph_def(path, meta_graphs=True), opaque)
    if source in registry.NAMES:
        return listing.op_lines(registry.build_in_new_graph(source).graph, opaque)
    raise ConfigError(f"{source} is neither a file (.pb, .pbtxt, .meta, a golden .txt) nor a "
                      f"registry model ({', '.join(registry.NAMES)})")


def compare(a, b, ignore=()):
    """Report lines of the differences between graph sources `a` and `b` (empty: the same)."""
    def kept(line):
        return not any(listing.matches(line.split("\t", 1)[0], p) for p in ignore)

    first, second = ([line for line in lines_of(s) if kept(line)] for s in (a, b))
    note = []
    if any(lines and all(line.count("\t") == 2 for line in lines) for lines in (first, second)):
        # A format 1 golden pins name, type and shapes only: compare just those.
        first, second = (["\t".join(line.split("\t")[:3])
                          for line in lines] for lines in (first, second))
        note = ["  (a format 1 golden: names, types and shapes compared, not inputs or values)"]
    if first == second:
        return []
    return [f"{a} ({len(first)} ops) and {b} ({len(second)} ops) differ:", *note,
            *listing.diff(first, second)]
