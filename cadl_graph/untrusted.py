"""A graph file from elsewhere is a program: the ops in it that reach outside the graph.

    from cadl_graph import untrusted
    untrusted.check(graph_def)                  # raises UntrustedGraphError naming them
    for name, op_type, why in untrusted.reaching_out(graph_def): ...

Every tool here that runs a graph file (`cadl-graph summarize_graph --images`, the Python
scorer, the C++ loader in cc/load_graph.cc) checks it first and refuses, unless told to trust
it (`--trust_graph`), any op that does more than compute its outputs from its inputs:

- an op TensorFlow marks as stateful (its OpDef's `is_stateful`: writing files, printing,
  saving or restoring checkpoints, running Python, sending and receiving, readers, iterators,
  summaries, ...), except the few whose state stays inside the session and harms nothing
  (HARMLESS_STATEFUL: random numbers, asserts, variables, and control flow whose bodies are
  checked like the graph);
- an op that is not marked stateful yet reads from or writes to the outside (REACHES_OUTSIDE:
  `ReadFile`, `MatchingFiles`, `ImmutableConst`, snapshots, debug ops with URLs, ...);
- an op this TensorFlow does not know (nothing can be said about it).

Ops inside the graph's function library are checked too, since a call op runs them. Why a
denylist built on `is_stateful` and not an allowlist of pure ops: TensorFlow has more than a
thousand pure ops and a graph from elsewhere may use any of them; the stateful mark is
TensorFlow's own record of side effects, so a side-effecting op added to TensorFlow later is
refused without a change here. TensorFlow's `saved_model_cli run` refuses three ops by default
(ReadFile, WriteFile, PrintV2); this check covers those and everything stateful.

What it does not cover: a graph can still use any amount of memory and time (a huge constant
shape, an endless While), and a crafted protobuf can target bugs in TensorFlow's own kernels.
Run graphs from strangers in a sandbox all the same. Reading, summarizing and comparing a graph
file (`cadl-graph summarize_graph`, `diff_graph`) import it but run nothing.
"""

import functools

from cadl_graph.errors import Error

# Stateful by TensorFlow's mark, but their state lives in the session: safe to run.
HARMLESS_STATEFUL = frozenset({
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "RandomShuffle", "Multinomial", "RandomGamma",
    "RandomPoisson", "RandomPoissonV2",
    "Assert",
    "VariableV2", "Variable", "VarHandleOp", "ReadVariableOp",
    # Control flow and calls: stateful when their bodies may be; the bodies are checked.
    "If", "While", "Case", "StatefulPartitionedCall",
})
# Not marked stateful, yet they read or write outside the graph.
REACHES_OUTSIDE = frozenset({
    "ReadFile", "MatchingFiles", "ImmutableConst", "DecodeProtoV2", "SnapshotDataset",
    "SnapshotDatasetV2", "DebugIdentity", "DebugNanCount", "DebugNumericSummary",
    "PyFuncStateless",
})
# Why the commonest ones are refused, in words; others get the generic reason.
REASONS = {
    "WriteFile": "writes a file", "ReadFile": "reads a file",
    "MatchingFiles": "lists files", "ImmutableConst": "maps a file into memory",
    "PrintV2": "prints, to a stream or a file", "Print": "prints to stderr",
    "SaveV2": "writes a checkpoint", "Save": "writes a checkpoint",
    "SaveSlices": "writes a checkpoint", "MergeV2Checkpoints": "writes a checkpoint",
    "RestoreV2": "reads a checkpoint", "Restore": "reads a checkpoint",
    "RestoreSlice": "reads a checkpoint",
    "PyFunc": "runs Python code", "EagerPyFunc": "runs Python code",
    "PyFuncStateless": "runs Python code",
    "DebugIdentity": "sends tensors to debug URLs (files, gRPC)",
}
STATEFUL_REASON = "stateful: TensorFlow marks it as doing more than computing its outputs"


class UntrustedGraphError(Error, PermissionError):
    """A graph holds ops that reach outside it, and the user did not say to trust it."""


def _op_def(op_type):
    # TensorFlow's op registry: imported here, not at the top, so importing this module (and
    # the package) stays free of TensorFlow until a graph is checked.
    from tensorflow.python.framework import op_def_registry
    return op_def_registry.get(op_type)


@functools.lru_cache(maxsize=None)  # a graph repeats its op types; the registry does not change
def why_refused(op_type):
    """Why an op of `op_type` is refused in an untrusted graph, or None when it may run."""
    if op_type in REACHES_OUTSIDE:
        return REASONS.get(op_type, "reads or writes outside the graph")
    op_def = _op_def(op_type)
    if op_def is None:
        return "an op this TensorFlow does not know"
    if op_def.is_stateful and op_type not in HARMLESS_STATEFUL:
        return REASONS.get(op_type, STATEFUL_REASON)
    return None


def reaching_out(graph_def):
    """[(node name, op type, why)] for every op of `graph_def` (and of its function library,
    named `function/node`) that an untrusted graph may not run."""
    nodes = [(node.name, node.op) for node in graph_def.node]
    nodes += [(f"{function.signature.name}/{node.name}", node.op)
              for function in graph_def.library.function for node in function.node_def]
    # A call of one of the library's functions has the function's name as its op type; what
    # it runs is its body, checked above.
    functions = {function.signature.name for function in graph_def.library.function}
    found = []
    for name, op_type in nodes:
        why = None if op_type in functions else why_refused(op_type)
        if why:
            found.append((name, op_type, why))
    return found


def check(graph_def, trust=False, source="the graph"):
    """Raises UntrustedGraphError when `graph_def` holds ops that reach outside it, unless
    `trust`; returns those ops (empty for a graph that computes only)."""
    found = reaching_out(graph_def)
    if found and not trust:
        shown = "; ".join(f"{name} ({op_type}: {why})" for name, op_type, why in found[:5])
        more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
        raise UntrustedGraphError(
            f"{source} holds {len(found)} op(s) that reach outside the graph, refused before "
            f"anything ran: {shown}{more}. A graph is a program: run it only if you trust "
            "where it came from, then pass --trust_graph (trust=True in Python)")
    return found
