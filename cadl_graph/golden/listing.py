"""Golden op listings: one line per op, to pin a graph's structure and values in a text file.

    from cadl_graph.golden import listing
    text = listing.render("my model", {}, listing.op_lines(graph))     # a golden file's text
    problem = listing.compare("golden/my_model.ops.txt", listing.op_lines(graph))
    print(problem or "matches")

Format 2, UTF-8 with `\\n` line ends. Header lines start with `#` and are not compared (format,
model, builder arguments, TensorFlow version, op count, the regenerate command). Then one line
per op of `graph.get_operations()` (creation order), fields separated by TABs:

    name  type  shapes  inputs  attr=value  attr=value ...

- `shapes`: each output's static shape, `[?,28,28,1]` (`?` an unknown dimension, `[]` a
  scalar), `<unknown>` for an unknown rank, `;` between outputs, `-` for none;
- `inputs`: the op's data inputs in order (`x`, `x:1`), then its control inputs sorted by
  name (`^ctrl`: they are a set, which a live graph lists in creation order and a serialized
  GraphDef sorted), `,` between them, `-` for none;
- then each attribute that defines what the op computes, sorted by name: dtypes (`T=float32`),
  strides, padding, data_format, transpose flags, `use_locking`, and a Const's `value`: written
  out when it has at most 16 elements (`value=1e-12`, `value=[1,2,2,1]`), else as
  `value=<float32[784,512] sha256:0123456789ab>` (the first 12 hex digits of the SHA-256 of its
  bytes; for strings, of each one's length as 8 bytes little-endian followed by it), or
  `value=<float32[784,512]>` for constants whose values are results rather than structure (a
  frozen export's trained weights: `opaque=`).

Left out as noise, because they restate other facts or change without the graph changing:
attributes starting with `_` (`_class` is colocation derived from names, `_output_shapes` is
derived from the graph, and the rest are TensorFlow's internal bookkeeping), the op's device
(a placement, not the computation), and the `seed`/`seed2` of random ops: they are 0 unless a
graph-level seed is set, and a training run's `tf.set_random_seed` changes them while the graph
stays the same.

A mismatch is reported by scope: ops added, removed, changed (which field or attribute, from
what to what) and moved, then the regenerate command (`--update-goldens`). Format 1 files
(name, type, shapes) still parse, and comparing with one says to regenerate.
"""

import fnmatch
import hashlib
import importlib.resources
import json
import re
from pathlib import Path

import numpy as np

from cadl_graph import fileio, shapes
from cadl_graph.compat import tf
from cadl_graph.errors import ConfigError

FORMAT_VERSION = 2
# The repository's golden/ folder, which the package ships as cadl_graph.golden_files (in an
# editable install this is the checkout's folder, so --update-goldens rewrites it).
GOLDEN_DIR = Path(str(importlib.resources.files("cadl_graph.golden_files")))
REGENERATE = "make test PYTEST_ARGS=--update-goldens"
SMALL_VALUE = 16          # constants with at most this many elements are written out
HASH_DIGITS = 12
NOISE_ATTRS = {"seed", "seed2"}
SHOWN_PER_SCOPE = 8       # a diff lists this many ops of a scope, then counts the rest
_FORMAT = re.compile(r"^# cadl_graph golden op listing, format (\d+)")


def _scalar_text(x):
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (bytes, np.bytes_)):
        return json.dumps(bytes(x).decode("utf-8", "backslashreplace"))
    return str(x)  # numpy's shortest repr of its own dtype: 1e-12, 0.99, 3


def _array_text(array):
    if array.ndim == 0:
        return _scalar_text(array[()])
    # np.asarray keeps string rows arrays (iterating an object array yields bare bytes).
    return "[" + ",".join(_array_text(np.asarray(a, dtype=array.dtype)) for a in array) + "]"


def value_text(tensor_proto, opaque=False):
    """A Const's value: written out when small, else dtype, shape and a short SHA-256."""
    array = tf.make_ndarray(tensor_proto)
    kind = f"{tf.as_dtype(tensor_proto.dtype).name}{shapes.text(list(array.shape))}"
    if opaque:
        return f"<{kind}>"
    if array.size <= SMALL_VALUE:
        return _array_text(array)
    digest = hashlib.sha256(_bytes(array)).hexdigest()
    return f"<{kind} sha256:{digest[:HASH_DIGITS]}>"


def _bytes(array):
    """The bytes a large Const's hash is taken of: its elements' in memory order; for strings
    (an array of Python objects, whose own bytes are pointers) each one's length as 8 bytes
    little-endian, then the string."""
    if array.dtype == object:
        return b"".join(len(x).to_bytes(8, "little") + x for x in array.flat)
    return np.ascontiguousarray(array).tobytes()


def attr_text(value):
    """An AttrValue as stable, readable text."""
    kind = value.WhichOneof("value")
    if kind == "type":
        return tf.as_dtype(value.type).name
    if kind == "shape":
        return shapes.text(shapes.dims(value.shape))
    if kind == "tensor":
        return value_text(value.tensor)
    if kind == "s":
        return json.dumps(value.s.decode("utf-8", "backslashreplace"))
    if kind == "b":
        return "true" if value.b else "false"
    if kind == "f":
        return str(np.float32(value.f))
    if kind == "i":
        return str(value.i)
    if kind == "func":
        return value.func.name
    if kind == "list":
        items = ([tf.as_dtype(t).name for t in value.list.type] +
                 [str(i) for i in value.list.i] + [str(np.float32(f)) for f in value.list.f] +
                 [json.dumps(s.decode("utf-8", "backslashreplace")) for s in value.list.s] +
                 [shapes.text(shapes.dims(s)) for s in value.list.shape] +
                 ["true" if b else "false" for b in value.list.b])
        return "[" + ",".join(items) + "]"
    return "-"


def op_line(op, opaque=False):
    """The golden line of one op; `opaque` hides a Const's value (keeping dtype and shape)."""
    outputs = ";".join(shapes.text(shapes.dims(t.shape)) for t in op.outputs) or "-"
    node = op.node_def
    # Control inputs are a set: a live op lists them in creation order, a serialized GraphDef
    # sorted. Writing them sorted, after the data inputs, makes every form of a graph equal.
    data = [name for name in node.input if not name.startswith("^")]
    control = sorted(name for name in node.input if name.startswith("^"))
    inputs = ",".join(data + control) or "-"
    attrs = []
    for key in sorted(node.attr):
        if key.startswith("_") or key in NOISE_ATTRS:
            continue
        text = (value_text(node.attr[key].tensor, opaque) if key == "value" and op.type == "Const"
                else attr_text(node.attr[key]))
        attrs.append(f"{key}={text}")
    return "\t".join([op.name, op.type, outputs, inputs, *attrs])


def op_lines(graph, opaque=()):
    """The golden lines of every op in `graph`, in creation order.

    Args:
      opaque: names of Const ops whose values are results, not structure (pinned by dtype and
        shape only), e.g. a frozen export's weights.
    """
    opaque = set(opaque)
    return [op_line(op, op.name in opaque) for op in graph.get_operations()]


def graph_def_lines(graph_def, opaque=()):
    """The golden lines of a GraphDef (e.g. a frozen export), in the GraphDef's node order.

    The GraphDef is imported without a prefix, for the output shapes TensorFlow infers. The
    lines follow the GraphDef's own node order, which for a serialized graph is the creation
    order of the live one: importing sorts nodes so that inputs come first, which reorders the
    Switch ops a `tf.cond` creates after the ops that read them.
    """
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    opaque = set(opaque)
    return [op_line(graph.get_operation_by_name(node.name), node.name in opaque)
            for node in graph_def.node]


def matches(name, pattern):
    """Whether op `name` matches `pattern`: an fnmatch pattern when it holds `*`, `?` or `[`,
    else a scope (`gradients` and `gradients/` match `gradients/...`, not `gradients_1/...`)
    or the op's own name."""
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    scope_name = pattern.rstrip("/")
    return name == scope_name or name.startswith(scope_name + "/")


class PatternError(ConfigError):
    """An op-name pattern (ignore=, opaque=) that matches no op of the graph."""


def matching(names, patterns, what):
    """The op names among `names` that any of `patterns` matches (see `matches`).

    Args:
      what: the argument's name, for messages (e.g. "opaque").

    Raises:
      TypeError: `patterns` is a single string (a list of them was meant).
      PatternError (a ValueError): a pattern that matches no op (misspelt names would
        otherwise be ignored).
    """
    if isinstance(patterns, (str, bytes)):
        raise TypeError(f"{what}= takes a list of op names or patterns, got the string "
                        f"{patterns!r}; write {what}=[{patterns!r}]")
    found, unmatched = set(), []
    for pattern in patterns:
        hits = {name for name in names if matches(name, pattern)}
        if not hits:
            unmatched.append(pattern)
        found |= hits
    if unmatched:
        raise PatternError(f"{what}= pattern(s) that match no op of the graph: "
                         f"{', '.join(map(repr, unmatched))}")
    return found


def golden_path(name, kind="ops"):
    return GOLDEN_DIR / f"{name}.{kind}.txt"


def render(name, hparams, lines, tf_version=None, regenerate=REGENERATE):
    """The full text of a golden file: header, then `lines`."""
    header = [
        f"# cadl_graph golden op listing, format {FORMAT_VERSION}",
        f"# model: {name}",
        f"# builder arguments: {json.dumps(hparams, sort_keys=True)}",
        f"# tensorflow: {tf_version or tf.__version__}",
        f"# ops: {len(lines)}",
        f"# regenerate: {regenerate}",
        "# columns: name<TAB>type<TAB>output shapes<TAB>inputs<TAB>attr=value<TAB>...",
    ]
    return "\n".join(header + list(lines)) + "\n"


def parse(text):
    """The op lines of a golden file's text (header and blank lines dropped)."""
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def format_of(text):
    """The format version a golden file's header declares (None when it declares none)."""
    match = _FORMAT.match(text)
    return int(match.group(1)) if match else None


def write(path, text):
    fileio.atomic_write_bytes(path, text.encode("utf-8"))


def _fields(line):
    """(name, {field or attribute: text}) of a golden line (format 1 lines have 3 fields)."""
    parts = line.split("\t")
    parts += [""] * (4 - len(parts))
    return parts[0], {"type": parts[1], "shapes": parts[2], "inputs": parts[3],
                      **dict(a.split("=", 1) for a in parts[4:] if "=" in a)}


def scope(name):
    """The name scope an op name sits in ("" at the top level)."""
    return name.rsplit("/", 1)[0] if "/" in name else ""


def diff(expected, actual):
    """The differences between two lists of golden lines, grouped by scope.

    Returns:
      list of report lines (empty when the lists are equal): for each scope, its ops added
      (`+`), removed (`-`) and changed (`~`, with each field or attribute from old to new),
      then the ops whose position moved.
    """
    old, new = dict(map(_fields, expected)), dict(map(_fields, actual))
    by_scope = {}

    def note(name, entry):
        by_scope.setdefault(scope(name) or "(top level)", []).append(entry)

    for name in new:
        if name not in old:
            note(name, f"+ {name} ({new[name]['type']})")
    for name, fields in old.items():
        if name not in new:
            note(name, f"- {name} ({fields['type']})")
            continue
        changes = [f"{key} {fields.get(key, '(none)')} -> {new[name].get(key, '(none)')}"
                   for key in dict.fromkeys([*fields, *new[name]])
                   if fields.get(key) != new[name].get(key)]
        if changes:
            note(name, f"~ {name}: {'; '.join(changes)}")
    report = []
    for scope_name in sorted(by_scope):
        entries = by_scope[scope_name]
        counts = {sign: sum(e.startswith(sign) for e in entries) for sign in "+-~"}
        summary = ", ".join(f"{n} {word}" for (sign, word), n in zip(
            (("+", "added"), ("-", "removed"), ("~", "changed")), counts.values()) if n)
        report.append(f"  {scope_name}: {summary}")
        report += [f"    {e}" for e in entries[:SHOWN_PER_SCOPE]]
        if len(entries) > SHOWN_PER_SCOPE:
            report.append(f"    ... and {len(entries) - SHOWN_PER_SCOPE} more")
    common_old = [n for n in old if n in new]
    common_new = [n for n in new if n in old]
    if common_old != common_new:
        position = {n: i for i, n in enumerate(common_old)}
        moved = [f"{n} (now after {common_new[i - 1]})" for i, n in enumerate(common_new)
                 if i and position[common_new[i - 1]] > position[n]]
        report.append(f"  order: {len(moved)} op(s) now follow an op they used to precede: "
                      f"{', '.join(moved[:3])}{', ...' if len(moved) > 3 else ''}")
    return report


def compare(path, lines, regenerate=REGENERATE):
    """Compares `lines` with the golden at `path`.

    Returns:
      None when they match, else a message: the golden is missing or in an old format, or
      the differences grouped by scope, followed by the regenerate command.
    """
    path = Path(path)
    if not path.is_file():
        return f"golden file {path} is missing; create it with:\n  {regenerate}"
    text = path.read_text(encoding="utf-8")
    version = format_of(text)
    if version != FORMAT_VERSION:
        return (f"golden file {path} is format {version or 'unknown'}; this cadl_graph writes "
                f"format {FORMAT_VERSION} (values, inputs and attributes too). Regenerate it "
                f"and review the diff:\n  {regenerate}")
    expected = parse(text)
    if expected == list(lines):
        return None
    return (f"graph differs from {path} ({len(expected)} golden ops, {len(lines)} built):\n" +
            "\n".join(diff(expected, list(lines))) +
            f"\nIf the change is intended, regenerate and review `git diff` of the golden:\n"
            f"  {regenerate}")
