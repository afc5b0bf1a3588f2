"""Compare any two TF1 graphs the way the goldens compare them.

    from cadl_graph.golden import graphdiff
    report = graphdiff.compare("model.pb", "golden/conv_autoencoder.ops.txt",
                               ignore=["gradients/"])
    print("\\n".join(report) or "same")

A graph is given as a binary or text GraphDef (`.pb`, `.pbtxt`), a Saver's `.meta`, a training
run's folder (its `model.ckpt.meta`), a golden file (`.txt`, as `cadl_graph.golden.listing`
writes them; the package's own by file name, e.g. `vae.frozen.ops.txt`), or the name of a
registry model. Both are reduced to golden lines (name, type,
shapes, inputs, attributes, small constant values) and the differences are reported by scope.
`ignore` drops ops before comparing: a pattern with `*`, `?` or `[` is matched against op names
(fnmatch); any other pattern names a scope, so `gradients` or `gradients/` drops
`gradients/...` but keeps `gradients_1/...`. `opaque` takes the same patterns for constants
compared by dtype and shape only; an export's own .json names its trained ones.
"""

import hashlib
import json
from pathlib import Path

from cadl_graph import graphfile
from cadl_graph.errors import ConfigError
from cadl_graph.golden import listing
from cadl_graph.graphs import registry


def lines_of(source, opaque=()):
    """The golden lines of a graph source (see the module docstring).

    Args:
      opaque: patterns (see `listing.matches`) of Const ops whose values are results, not
        structure: compared by dtype and shape only. Each must match an op of this graph.

    Raises:
      ConfigError: neither an existing file nor a registry model.
      GraphFileError: a file that is not a graph.
      ValueError: an `opaque` pattern that matches no op.
    """
    graph_def = _read(source)
    if isinstance(graph_def, list):
        return graph_def
    names = [node.name for node in graph_def.node]
    return listing.graph_def_lines(graph_def, listing.matching(names, opaque, "opaque"))


def _read(source):
    """A source's GraphDef, or a golden file's lines as they are written."""
    path = Path(source)
    if not path.exists() and path.name == str(source) and (listing.GOLDEN_DIR / path).is_file():
        path = listing.GOLDEN_DIR / path  # a shipped golden by its name: vae.frozen.ops.txt
    if path.is_file() and path.suffix == ".txt":
        return listing.parse(path.read_text(encoding="utf-8"))
    if path.exists():
        return graphfile.load_graph_def(path, meta_graphs=True)
    if source in registry.NAMES:
        return registry.build_in_new_graph(source).graph.as_graph_def()
    raise ConfigError(f"{source} is neither a file (.pb, .pbtxt, .meta, a golden .txt, a run "
                      f"folder), a shipped golden's name nor a registry model "
                      f"({', '.join(registry.NAMES)})")


def export_constants(source):
    """The trained constants an export's signature (`<name>.json` beside `<name>.pb`, or a
    SavedModel's assets.extra/cadl_graph.json, written by `cadl-graph export_graph`) lists, or
    () for any other source."""
    graph_file, signature = graphfile.export_files(source)
    if graph_file.suffix != ".pb" or not signature.is_file():
        return ()
    try:
        saved = json.loads(signature.read_text(encoding="utf-8"))
        names, digest = tuple(saved["trained_constants"]), saved.get("graph_sha256")
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{signature} is not an export signature with trained_constants "
                          f"({e}); pass --noexport_json to compare values") from None
    if digest is not None and digest != hashlib.sha256(graph_file.read_bytes()).hexdigest():
        raise ConfigError(f"{signature} describes another export than {source} (its "
                          "graph_sha256 differs: an export was interrupted between the two); "
                          "export again, or pass --noexport_json")
    return names


def compare(a, b, ignore=(), opaque=(), export_json=True):
    """Report lines of the differences between graph sources `a` and `b` (empty: the same).

    Args:
      ignore: patterns of ops to drop from both before comparing.
      opaque: patterns of Const ops compared by dtype and shape only; each must match an op
        of `a` or `b` (a golden's lines already show its opaque values that way).
      export_json: also treat as opaque the trained constants an export's .json lists, so a
        trained export compares equal to its frozen golden.

    Raises:
      TypeError, ValueError: `opaque` is a bare string, or a pattern matches no op.
    """
    sources = [_read(a), _read(b)]
    names = [[line.split("\t", 1)[0] for line in s] if isinstance(s, list)
             else [node.name for node in s.node] for s in sources]
    listing.matching(names[0] + names[1], opaque, "opaque")  # validates the patterns
    notes, lines = [], []
    for source, graph, graph_names in zip((a, b), sources, names):
        if isinstance(graph, list):
            lines.append(graph)
            continue
        trained = export_constants(source) if export_json else ()
        if trained:
            notes.append(f"  ({graphfile.export_files(source)[1]}: its trained constants "
                         f"{', '.join(trained)} compared by dtype and shape, not value)")
        hidden = {n for n in graph_names if any(listing.matches(n, p) for p in opaque)}
        lines.append(listing.graph_def_lines(graph, hidden | set(trained)))

    def kept(line):
        return not any(listing.matches(line.split("\t", 1)[0], p) for p in ignore)

    first, second = ([line for line in ls if kept(line)] for ls in lines)
    if any(ls and all(line.count("\t") == 2 for line in ls) for ls in (first, second)):
        # A format 1 golden pins name, type and shapes only: compare just those.
        first, second = (["\t".join(line.split("\t")[:3])
                          for line in ls] for ls in (first, second))
        notes.append("  (a format 1 golden: names, types and shapes compared, not inputs or "
                     "values)")
    if first == second:
        return []
    return [f"{a} ({len(first)} ops) and {b} ({len(second)} ops) differ:", *notes,
            *listing.diff(first, second)]
