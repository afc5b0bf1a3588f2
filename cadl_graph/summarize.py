"""Load a GraphDef file, say what is in it, and run it: TensorFlow's summarize_graph in Python.

    from cadl_graph import summarize
    graph_def = summarize.load_graph_def("model.pb")       # binary or text
    print(summarize.format_summary(summarize.summarize(graph_def)))
    Y = summarize.run(graph_def, images)                    # images float32 [N, 784]

Loading is strict about what a file is: a binary GraphDef, a text one, or something this
module recognises and explains (a SavedModel, a Saver's `.meta`, a checkpoint).
"""

import collections
from pathlib import Path

import numpy as np
from google.protobuf import message, text_format

from cadl_graph import idx
from cadl_graph.compat import tf

# Op types that never produce a graph's result: they are sources, sinks or bookkeeping.
_NOT_OUTPUTS = {"Const", "NoOp", "Placeholder", "Assert", "VariableV2", "Assign", "SaveV2",
                "RestoreV2"}
_VARIABLE_TYPES = {"VariableV2", "VarHandleOp", "Variable"}


class GraphFileError(ValueError):
    """A file is not a loadable GraphDef, or a graph cannot run as asked."""


def load_graph_def(path):
    """Reads a GraphDef from a binary (tried first) or text protobuf file.

    Raises:
      GraphFileError: missing file, a SavedModel folder, a `.meta` MetaGraphDef, a
        checkpoint, or bytes that are neither kind of GraphDef.
    """
    path = Path(path)
    if path.is_dir():
        hint = (" It is a SavedModel folder (saved_model.pb); load it with "
                "tf.saved_model.loader.load, or freeze a checkpoint with "
                "scripts/export_graph.py." if (path / "saved_model.pb").exists() else "")
        raise GraphFileError(f"{path} is a folder, not a GraphDef file.{hint}")
    if not path.is_file():
        raise GraphFileError(f"graph file {path} does not exist")
    if path.suffix == ".index" or ".data-" in path.name:
        raise GraphFileError(f"{path} is part of a checkpoint (variables only, no graph); "
                             "freeze it first with scripts/export_graph.py")
    data = path.read_bytes()
    if path.suffix == ".meta" or _parses_as(tf.MetaGraphDef, data, "graph_def"):
        raise GraphFileError(f"{path} is a MetaGraphDef (a Saver's .meta): its graph still "
                             "has variables. Freeze the checkpoint with scripts/export_graph.py")
    if path.name == "saved_model.pb":
        raise GraphFileError(f"{path} is a SavedModel's graph; load the folder "
                             f"{path.parent} with tf.saved_model, or freeze a checkpoint with "
                             "scripts/export_graph.py")
    graph_def = tf.GraphDef()
    try:
        graph_def.ParseFromString(data)
        if _plausible(graph_def):
            return graph_def
    except message.DecodeError:
        pass
    try:
        graph_def = text_format.Parse(data.decode("utf-8"), tf.GraphDef())
        if _plausible(graph_def):
            return graph_def
    except (text_format.ParseError, UnicodeDecodeError):
        pass
    raise GraphFileError(f"{path} ({len(data)} bytes) parses neither as a binary nor as a "
                         "text GraphDef")


def _parses_as(proto_type, data, field):
    proto = proto_type()
    try:
        proto.ParseFromString(data)
    except message.DecodeError:
        return False
    return proto.HasField(field) and _plausible(getattr(proto, field))


def _plausible(graph_def):
    return len(graph_def.node) > 0 and all(n.name and n.op for n in graph_def.node)


def check_versions(graph_def):
    """Problems with the GraphDef's versions for this TensorFlow, as (fatal, message) pairs."""
    versions, problems = graph_def.versions, []
    if versions.producer == 0:
        problems.append((False, "the graph records no producer version (TF2's "
                                "convert_variables_to_constants clears it); version skew "
                                "cannot be detected"))
    elif versions.producer > tf.GRAPH_DEF_VERSION:
        problems.append((False, f"the graph was made by a newer TensorFlow (producer "
                                f"{versions.producer} > {tf.GRAPH_DEF_VERSION}); ops may be "
                                "unknown here"))
    elif versions.producer < tf.GRAPH_DEF_VERSION_MIN_PRODUCER:
        problems.append((True, f"the graph is too old for this TensorFlow (producer "
                               f"{versions.producer} < {tf.GRAPH_DEF_VERSION_MIN_PRODUCER})"))
    if versions.min_consumer > tf.GRAPH_DEF_VERSION:
        problems.append((True, f"the graph needs a TensorFlow whose GraphDef version is at "
                               f"least {versions.min_consumer}; this one is "
                               f"{tf.GRAPH_DEF_VERSION}"))
    return problems


def _attr_shape(node):
    if "shape" not in node.attr:
        return None
    shape = node.attr["shape"].shape
    return None if shape.unknown_rank else [d.size if d.size >= 0 else None for d in shape.dim]


def summarize(graph_def):
    """What summarize_graph reports.

    Returns:
      dict: inputs [(name, dtype, shape)], outputs [names], variables [names],
      op_counts Counter, const_parameters (elements in float constants), control_edges,
      versions (producer, min_consumer), nodes.
    """
    consumed = set()
    control_edges = 0
    for node in graph_def.node:
        for name in node.input:
            control_edges += name.startswith("^")
            consumed.add(name.lstrip("^").split(":")[0])
    inputs = [(n.name, tf.as_dtype(n.attr["dtype"].type).name, _attr_shape(n))
              for n in graph_def.node if n.op == "Placeholder"]
    outputs = [n.name for n in graph_def.node
               if n.name not in consumed and n.op not in _NOT_OUTPUTS]
    parameters = 0
    for n in graph_def.node:
        if n.op == "Const" and n.attr["value"].tensor.dtype in (tf.float32.as_datatype_enum,
                                                                tf.float64.as_datatype_enum):
            dims = [d.size for d in n.attr["value"].tensor.tensor_shape.dim]
            parameters += int(np.prod(dims)) if dims else 1
    return dict(
        inputs=inputs, outputs=outputs, nodes=len(graph_def.node),
        variables=[n.name for n in graph_def.node if n.op in _VARIABLE_TYPES],
        op_counts=collections.Counter(n.op for n in graph_def.node),
        const_parameters=parameters, control_edges=control_edges,
        versions=(graph_def.versions.producer, graph_def.versions.min_consumer))


def _shape_text(shape):
    return "unknown" if shape is None else "[" + ",".join("?" if d is None else str(d)
                                                          for d in shape) + "]"


def format_summary(summary):
    lines = [f"Found {len(summary['inputs'])} possible inputs: " + " ".join(
        f"(name={n}, type={t}, shape={_shape_text(s)})" for n, t, s in summary["inputs"])]
    lines.append(f"Found {len(summary['outputs'])} possible outputs: " + " ".join(
        f"(name={n})" for n in summary["outputs"]))
    lines.append(f"Found {summary['const_parameters']} const parameters, "
                 f"{len(summary['variables'])} variables, and {summary['control_edges']} "
                 "control edges")
    if summary["variables"]:
        lines.append("Variables left (not frozen): " + ", ".join(summary["variables"]))
    producer, min_consumer = summary["versions"]
    lines.append(f"GraphDef versions: producer {producer}, min_consumer {min_consumer}; "
                 f"{summary['nodes']} nodes")
    lines.append("Op types used: " + ", ".join(
        f"{count} {op}" for op, count in summary["op_counts"].most_common()))
    return "\n".join(lines)


def load_inputs(path, limit=None):
    """Images to feed: an IDX image file (raw or .gz) as float32 [N, 784] in [0, 1], or a
    .npy array as stored. `limit` keeps the first N."""
    path = Path(path)
    if path.suffix == ".npy":
        array = np.load(path)
    else:
        array = idx.read_idx(path, idx.IMAGES_MAGIC)
        array = array.reshape(len(array), -1).astype(np.float32) / np.float32(255.0)
    return array[:limit] if limit else array


def run(graph_def, inputs, input_name="X", output_name="Y", batch_size=1000):
    """Imports `graph_def` into a new graph and returns the output for all `inputs`.

    Raises:
      GraphFileError: unknown node names (with the names that exist), or inputs whose shape
        or dtype do not fit the input placeholder.
    """
    for fatal, problem in check_versions(graph_def):
        if fatal:
            raise GraphFileError(problem)
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    names = {op.name for op in graph.get_operations()}
    for name in (input_name, output_name):
        if name.split(":")[0] not in names:
            summary = summarize(graph_def)
            raise GraphFileError(
                f"node {name!r} is not in the graph; its inputs are "
                f"{', '.join(n for n, _, _ in summary['inputs']) or 'none'} and its likely "
                f"outputs {', '.join(summary['outputs']) or 'none'}")
    x = graph.get_tensor_by_name(input_name if ":" in input_name else input_name + ":0")
    y = graph.get_tensor_by_name(output_name if ":" in output_name else output_name + ":0")
    inputs = np.asarray(inputs)
    if not x.shape.is_compatible_with(inputs.shape):
        raise GraphFileError(f"input {x.op.name} takes shape {x.shape}, got an array of shape "
                             f"{inputs.shape}")
    if not np.can_cast(inputs.dtype, x.dtype.as_numpy_dtype, casting="same_kind"):
        raise GraphFileError(f"input {x.op.name} takes {x.dtype.name}, got {inputs.dtype}")
    with tf.Session(graph=graph) as sess:
        parts = [sess.run(y, {x: inputs[i:i + batch_size]})
                 for i in range(0, len(inputs), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0,), np.float32)


def run_files(graph_def, images_path, labels_path=None, input_name="X", output_name="Y",
              limit=None, rows=3):
    """Runs the graph on an image file; returns report lines (shape, first rows, accuracy).

    Raises:
      GraphFileError: as `run`, or labels that do not fit the inputs or a non-10-class output.
    """
    inputs = load_inputs(images_path, limit)
    outputs = run(graph_def, inputs, input_name, output_name)
    flat = outputs.reshape(len(outputs), -1)
    lines = [f"ran {len(inputs)} inputs: {output_name} has shape {outputs.shape}"]
    lines += [" ".join(f"{v:.4f}" for v in row[:10]) + (" ..." if row.size > 10 else "")
              for row in flat[:rows]]
    if labels_path:
        labels = idx.read_idx(labels_path, idx.LABELS_MAGIC)[:len(inputs)]
        if len(labels) != len(inputs) or flat.shape[1] != 10:
            raise GraphFileError(
                f"accuracy needs one label per input and a 10-class output; got {len(labels)} "
                f"labels for {len(inputs)} inputs, output width {flat.shape[1]}")
        lines.append(f"accuracy {np.mean(flat.argmax(axis=1) == labels):.6f}")
    return lines
