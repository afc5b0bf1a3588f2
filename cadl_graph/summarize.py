"""Load a GraphDef file and say what is in it: TensorFlow's summarize_graph in Python.

    from cadl_graph import summarize
    graph_def = summarize.load_graph_def("model.pb")       # binary or text
    print(summarize.format_summary(summarize.summarize(graph_def)))

Loading is strict about what a file is: a binary GraphDef, a text one, or something this
module recognises and explains (a SavedModel, a Saver's `.meta`, a checkpoint). Running a
loaded graph on images is `cadl_graph.predict`.
"""

import collections
from pathlib import Path

import numpy as np
from google.protobuf import message, text_format

from cadl_graph import shapes
from cadl_graph.compat import tf
from cadl_graph.errors import Error

# Op types that never produce a graph's result: they are sources, sinks or bookkeeping.
_NOT_OUTPUTS = {"Const", "NoOp", "Placeholder", "Assert", "VariableV2", "Assign", "SaveV2",
                "RestoreV2"}
_VARIABLE_TYPES = {"VariableV2", "VarHandleOp", "Variable"}


class GraphFileError(Error, ValueError):
    """A file is not a loadable GraphDef, or a graph cannot run as asked."""


def load_graph_def(path, meta_graphs=False):
    """Reads a GraphDef from a binary (tried first) or text protobuf file.

    Args:
      meta_graphs: also accept a Saver's `.meta` (a MetaGraphDef) and return its graph, which
        still has its variables (fine for comparing structure, not for running).

    Raises:
      GraphFileError: missing file, a SavedModel folder, a `.meta` MetaGraphDef (unless
        `meta_graphs`), a checkpoint, or bytes that are neither kind of GraphDef.
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
    if meta_graphs and _parses_as(tf.MetaGraphDef, data, "graph_def"):
        return tf.MetaGraphDef.FromString(data).graph_def
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
    return shapes.dims(node.attr["shape"].shape) if "shape" in node.attr else None


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


def format_summary(summary):
    lines = [f"Found {len(summary['inputs'])} possible inputs: " + " ".join(
        f"(name={n}, type={t}, shape={shapes.text(s)})" for n, t, s in summary["inputs"])]
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
