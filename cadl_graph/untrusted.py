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

A SavedModel with variables holds its Saver's ops (SaveV2, RestoreV2, MergeV2Checkpoints), which
a SavedModel loader needs: loading runs the restore, which reads the SavedModel's own
variables/ folder. `saver_ops` names them from the meta graph's `saver_def` (only ops of those
types that the Saver's restore op or save tensor depend on); they are allowed, and
`check_fetches` refuses to run anything else that depends on them (a signature output or an
init op that would write a checkpoint on the way).

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


SAVER_TYPES = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints"})


def ancestors(graph_def, roots, stop=()):
    """Names of the nodes `roots` (op or tensor names) depend on, themselves included, through
    data and control inputs; nodes named in `stop` are not entered."""
    inputs = {node.name: node.input for node in graph_def.node}
    seen, stack = set(), [r.lstrip("^").split(":")[0] for r in roots]
    while stack:
        name = stack.pop()
        if name in inputs and name not in seen and name not in stop:
            seen.add(name)
            stack.extend(i.lstrip("^").split(":")[0] for i in inputs[name])
    return seen


def saver_ops(meta_graph_def):
    """The names of a SavedModel's Saver ops (SAVER_TYPES that its saver_def's restore op or
    save tensor depends on): allowed by `check`, refused in anything else `check_fetches` runs.
    """
    saver = meta_graph_def.saver_def
    roots = [name for name in (saver.restore_op_name, saver.save_tensor_name) if name]
    graph_def = meta_graph_def.graph_def
    types = {node.name: node.op for node in graph_def.node}
    return frozenset(name for name in ancestors(graph_def, roots)
                     if types[name] in SAVER_TYPES)


INIT_OP_KEY = "__saved_model_init_op"  # TF 2's name for a TF 1 SavedModel's main op


def init_ops(meta_graph_def):
    """The ops a SavedModel loader runs after the restore (main op, legacy init op)."""
    names = [output.name for key, signature in meta_graph_def.signature_def.items()
             if key == INIT_OP_KEY for output in signature.outputs.values()]
    for key in ("saved_model_main_op", "legacy_init_op"):
        if key in meta_graph_def.collection_def:
            names += list(meta_graph_def.collection_def[key].node_list.value)
    return names


def check_fetches(graph_def, fetches, saver=frozenset(), source="the graph"):
    """Raises UntrustedGraphError when running `fetches` (op or tensor names) would run one of
    the `saver` ops (`saver_ops`), which only the SavedModel loader's restore may."""
    reached = sorted(ancestors(graph_def, fetches) & saver)
    if reached:
        raise UntrustedGraphError(
            f"running {', '.join(fetches)} in {source} would run its Saver's ops "
            f"{', '.join(reached)} (they write or read checkpoints); refused")


def reaching_out(graph_def, allowed=frozenset()):
    """[(node name, op type, why)] for every op of `graph_def` (and of its function library,
    named `function/node`) that an untrusted graph may not run, but those named `allowed`."""
    nodes = [(node.name, node.op) for node in graph_def.node]
    nodes += [(f"{function.signature.name}/{node.name}", node.op)
              for function in graph_def.library.function for node in function.node_def]
    # A call of one of the library's functions has the function's name as its op type; what
    # it runs is its body, checked above.
    functions = {function.signature.name for function in graph_def.library.function}
    found = []
    for name, op_type in nodes:
        why = None if op_type in functions or name in allowed else why_refused(op_type)
        if why:
            found.append((name, op_type, why))
    return found


def check(graph_def, trust=False, source="the graph", allowed=frozenset()):
    """Raises UntrustedGraphError when `graph_def` holds ops that reach outside it (but those
    named `allowed`, e.g. a SavedModel's `saver_ops`), unless `trust`; returns those ops
    (empty for a graph that computes only)."""
    found = reaching_out(graph_def, allowed)
    if found and not trust:
        shown = "; ".join(f"{name} ({op_type}: {why})" for name, op_type, why in found[:5])
        more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
        raise UntrustedGraphError(
            f"{source} holds {len(found)} op(s) that reach outside the graph, refused before "
            f"anything ran: {shown}{more}. A graph is a program: run it only if you trust "
            "where it came from, then pass --trust_graph (trust=True in Python)")
    return found
