"""Say what a GraphDef holds: TensorFlow's summarize_graph in Python.

    from cadl_graph import graphfile
    from cadl_graph.export import summarize
    graph_def = graphfile.load_graph_def("model.pb")
    print(summarize.format_summary(summarize.summarize(graph_def)))

Running a loaded graph on images is `cadl_graph.export.predict`.
"""

import collections

import numpy as np

from cadl_graph import shapes, untrusted
from cadl_graph.compat import tf

# Op types that never produce a graph's result: they are sources, sinks or bookkeeping.
_NOT_OUTPUTS = {"Const", "NoOp", "Placeholder", "Assert", "VariableV2", "Assign", "SaveV2",
                "RestoreV2"}
_VARIABLE_TYPES = {"VariableV2", "VarHandleOp", "Variable"}
# Ops that draw random numbers: a graph holding one may give other outputs on every run.
RANDOM_TYPES = frozenset({"RandomUniform", "RandomUniformInt", "RandomStandardNormal",
                          "TruncatedNormal", "ParameterizedTruncatedNormal", "RandomShuffle",
                          "Multinomial", "RandomGamma", "RandomPoisson", "RandomPoissonV2"})


def _attr_shape(node):
    return shapes.dims(node.attr["shape"].shape) if "shape" in node.attr else None


def random_ops(graph_def):
    """The names of the ops of `graph_def` that draw random numbers (RANDOM_TYPES)."""
    return [n.name for n in graph_def.node if n.op in RANDOM_TYPES]


def summarize(graph_def):
    """What summarize_graph reports.

    Returns:
      dict: inputs [(name, dtype, shape)], outputs [names], variables [names],
      op_counts Counter, const_parameters (elements in float constants), control_edges,
      reaching_out [(name, op type, why)] (see cadl_graph.untrusted), random_ops [names],
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
        reaching_out=untrusted.reaching_out(graph_def), random_ops=random_ops(graph_def),
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
    if summary["random_ops"]:
        lines.append(f"Draws random numbers ({', '.join(summary['random_ops'])}): outputs may "
                     "differ from run to run (a cadl_graph export of a VAE or the denoising "
                     "autoencoder without them: export_graph --deterministic)")
    else:
        lines.append("Draws no random numbers: the same inputs give the same outputs")
    if summary["reaching_out"]:
        lines.append(f"Ops that reach outside the graph ({len(summary['reaching_out'])}; "
                     "running it is refused without --trust_graph): " + ", ".join(
                         f"{name} ({op_type}: {why})"
                         for name, op_type, why in summary["reaching_out"]))
    return "\n".join(lines)


def format_signatures(meta_graph_def):
    """A SavedModel meta graph's tags and signatures, one line each: `key: X -> Y`."""
    lines = [f"SavedModel meta graph tagged {', '.join(meta_graph_def.meta_info_def.tags)}; "
             f"{len(meta_graph_def.signature_def)} signature(s):"]
    for key, sig in sorted(meta_graph_def.signature_def.items()):
        def tensors(infos):
            return ", ".join(f"{k}={v.name}" for k, v in sorted(infos.items()))
        lines.append(f"  {key}: {tensors(sig.inputs)} -> {tensors(sig.outputs)}")
    return "\n".join(lines)
