"""Why a graph has the ops it has: every op of a registry graph, grouped by what made it.

    from cadl_graph.graphs import registry
    from cadl_graph.teach import explain
    model = registry.build_in_new_graph("conv_autoencoder")
    print("\\n".join(explain.format_groups(explain.groups(model))))

The lecture prints `[op.name for op in g.get_operations()]` (Out[48]) and leaves the student
to wonder why a three-layer autoencoder and a softmax make 394 names. `groups` answers: it
puts every op in one group, in the order the groups first appear:

- placeholders;
- each forward layer, by variable scope: its variables with their `Assign`, `read` and
  initializer ops, and its compute ops (a batch norm's `tf.cond` shows as `Switch`, `Merge`,
  `switch_t`/`switch_f`/`pred_id`, and where its moving-average update lives);
- the cost and the accuracy (what they add beyond the forward pass);
- `gradients/`: one group per forward layer it differentiates (the ops named
  `gradients/<forward op>_grad/...`), plus the backward pass's seed, the sums (`AddN`) where a
  tensor feeds several ops, and the `Switch`/`zeros` that route gradients through a cond;
- the optimizer: Adam's two slots per trainable variable (`<var>/Adam`, `<var>/Adam_1`), the
  `beta1_power`/`beta2_power` accumulators, and its update ops (`ApplyAdam` per variable);
- `init`.

Groups are told apart by the graph itself where it can (which ops the forward pass, the cost
and the accuracy depend on, edges and control edges alike) and by TensorFlow's own naming
conventions where it cannot (`gradients`, `Adam`, `<var>/Initializer`). `frozen` does the
same for a model's frozen export: what freezing kept, what became a constant, what it removed
(by the groups above) and what the export added. Counts always add up to the graph's.
"""

import collections
import dataclasses
import re

import numpy as np

from cadl_graph.compat import tf
from cadl_graph.export import freeze
from cadl_graph.golden.listing import scope as scope_of
from cadl_graph.graphs import registry
from cadl_graph.graphs.model import ancestors
from cadl_graph.training import checkpoints

PLACEHOLDERS, FORWARD, COST, ACCURACY = "placeholders", "forward", "cost", "accuracy"
GRADIENTS, OPTIMIZER, INIT, OTHER = "gradients", "optimizer", "init", "other"
_GRADIENTS = re.compile(r"^(gradients(?:_\d+)?)/")
_GRAD_OF = re.compile(r"^gradients(?:_\d+)?/(.+?)_grad/")
_SLOT = re.compile(r"^(.+?)/(Adam(?:_\d+)?)(/|$)")
_BETA_POWER = re.compile(r"^(beta[12]_power(?:_\d+)?)(/|$)")
_APPLY = re.compile(r"^(Adam(?:_\d+)?)(/|$)")
_INIT = re.compile(r"^init(_\d+)?$")
_COND_TYPES = {"Switch", "RefSwitch", "Merge"}
SHOWN = 4  # example names per group


@dataclasses.dataclass
class Group:
    """Ops that one piece of code made.

    Attributes:
      kind: one of PLACEHOLDERS, FORWARD, COST, ACCURACY, GRADIENTS, OPTIMIZER, INIT, OTHER.
      title: what made them, e.g. "layer encoder/layer/0".
      ops: the ops, in creation order.
      notes: what a reader should notice (variables, types, a cond's update).
    """

    kind: str
    title: str
    ops: list
    notes: list = dataclasses.field(default_factory=list)
    examples: list = dataclasses.field(default_factory=list)  # default: the first ops


class _Layers:
    """Maps op names to the layer (variable or end-point scope) they belong to."""

    def __init__(self, model):
        graph = model.graph
        self.ops = {op.name for op in graph.get_operations()}
        # Trainable variables and end points mark layers; an EMA's shadow variables
        # (`<bn>/<bn>/moments/Squeeze/ExponentialMovingAverage`) belong to their batch norm.
        scopes = {scope_of(v.op.name)
                  for v in graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)}
        scopes |= {scope_of(t.op.name) for t in model.end_points.values()}
        self.scopes = sorted(scopes - {""}, key=len, reverse=True)

    def of(self, name):
        for scope in self.scopes:
            if name.startswith(scope + "/"):
                return scope
        scope = scope_of(name)
        while scope in self.ops:  # `Reshape/shape` is part of the op `Reshape`
            scope = scope_of(scope)
        return scope


def type_summary(ops, most):
    """The `most` commonest op types among `ops` with their counts: "4 Const, 2 MatMul, ..."."""
    types = collections.Counter(op.type for op in ops)
    return ", ".join(f"{n} {t}" for t, n in types.most_common(most)) + \
        (", ..." if len(types) > most else "")


def variable_of(name):
    """The variable an Assign/read/initializer op serves (by TF's naming), or None."""
    for marker in ("/Initializer/", "/Assign", "/read"):
        if marker in name:
            return name.split(marker)[0]
    return None


def _role(op, forward, cost, accuracy, layers, variables, titles):
    """(kind, title) of one op; `titles` maps the ops seen so far to their group titles."""
    name = op.name
    if op.type == "Placeholder":
        return PLACEHOLDERS, "placeholders"
    match = _GRADIENTS.match(name)
    if match:
        of = _GRAD_OF.match(name)
        if of and of.group(1) in titles:
            return GRADIENTS, f"{match.group(1)} of the {titles[of.group(1)]}"
        return GRADIENTS, f"{match.group(1)}: the seed (grad_ys), sums (AddN) and plumbing"
    if _INIT.match(name) and op.type == "NoOp":
        return INIT, name
    match = _BETA_POWER.match(name)
    if match:
        suffix = re.search(r"_power(_\d+)?$", match.group(1)).group(1) or ""
        return OPTIMIZER, f"Adam{suffix}: beta1_power{suffix} and beta2_power{suffix}"
    match = _SLOT.match(name)
    if match and match.group(1) in variables:
        return OPTIMIZER, "Adam slots: <var>/Adam (m) and <var>/Adam_1 (v) per trainable variable"
    match = _APPLY.match(name)
    if match:
        return OPTIMIZER, f"{match.group(1)}: the update (ApplyAdam per variable)"
    variable = name if op.type == "VariableV2" else variable_of(name)
    if op in forward or (variable in variables):
        return FORWARD, f"layer {layers.of(variable or name) or '(top level)'}"
    if op in cost:
        return COST, "cost"
    if op in accuracy:
        return ACCURACY, "accuracy"
    layer = f"layer {layers.of(name) or '(top level)'}"
    if layer in titles.values():  # e.g. a cond's switch_t/switch_f, which nothing reads
        return FORWARD, layer
    return OTHER, "other"


def _notes(group, graph):
    ops = [graph.get_operation_by_name(n) for n in group.ops]
    notes = []
    variables = [op for op in ops if op.type == "VariableV2"]
    if variables:
        notes.append("variables: " + ", ".join(
            f"{v.name} {v.outputs[0].shape.as_list()}" for v in variables))
        parts = []
        for v in variables:
            initializer = sum(n.startswith(v.name + "/Initializer/") for n in group.ops)
            short = "/".join(v.name.split("/")[-2 if v.name.endswith("Average") else -1:])
            parts.append(f"{short}: VariableV2, Assign, read and {initializer} initializer "
                         f"op{'s' if initializer != 1 else ''}")
        compute = [op for op in ops if op.type != "VariableV2" and variable_of(op.name) is None]
        notes.append("ops: " + "; ".join(parts) + f"; then {len(compute)} that compute")
    group_ops = set(group.ops)
    tied = sorted({t.op.name[:-len("/read")] for op in ops for t in op.inputs
                   if t.op.type == "Identity" and t.op.name.endswith("/read")
                   and t.op.name not in group_ops})
    if tied:
        notes.append("reads " + ", ".join(tied) + ": another layer's weights (tied: the "
                     "decoder reuses the encoder's W, as the lecture's In[28] does)")
    doubled = next((v.name for v in variables if v.name.count(scope_of(v.name).split("/")[0])
                    > 1 and "ExponentialMovingAverage" in v.name), None)
    if doubled:
        notes.append(f"doubled scope in {doubled}: ExponentialMovingAverage names a shadow "
                     "variable after the full name of the tensor it averages and creates it "
                     "in the scope it is applied in")
    notes.append("types: " + type_summary(ops, 6))
    cond = [op for op in ops if "/cond/" in op.name]
    if cond:
        control_flow = sum(op.type in _COND_TYPES for op in cond)
        notes.append(f"tf.cond: {len(cond)} ops under cond/ ({control_flow} Switch/Merge; "
                     "switch_t, switch_f and pred_id carry the predicate)")
        identity = next((op for op in cond if op.name.endswith("/cond/Identity")), None)
        if identity is not None and identity.control_inputs:
            update = identity.control_inputs[0]
            where = ("OUTSIDE the cond: it runs at inference too (the course's batch norm)"
                     if update._control_flow_context is None  # noqa: SLF001 (no public API)
                     else "inside the training branch (the repaired batch norm)")
            notes.append(f"moving-average update {update.name}: {where}")
    return notes


def groups(model):
    """Every op of `model.graph` in exactly one Group; groups in order of first appearance."""
    graph = model.graph
    forward = ancestors([model.y, model.z, *model.end_points.values()])
    # Every minimize() differentiates a cost: the op its first `<op>_grad` scope is named for
    # (lecture_sequence holds two: the autoencoder's and the classifier's).
    first_grads = {}
    for op in graph.get_operations():
        of = _GRAD_OF.match(op.name)
        if of:
            first_grads.setdefault(_GRADIENTS.match(op.name).group(1), of.group(1))
    costs = [model.cost] + [graph.get_operation_by_name(n).outputs[0]
                            for n in first_grads.values()]
    cost = ancestors(costs) - forward
    accuracy = ancestors([model.accuracy]) - forward - cost  # empty without an accuracy
    layers = _Layers(model)
    variables = {op.name for op in graph.get_operations() if op.type == "VariableV2"
                 and not _SLOT.match(op.name) and not _BETA_POWER.match(op.name)}
    by_title, titles = {}, {}
    for op in graph.get_operations():
        kind, title = _role(op, forward, cost, accuracy, layers, variables, titles)
        by_title.setdefault(title, Group(kind, title, [])).ops.append(op.name)
        titles[op.name] = title
    result = list(by_title.values())
    for group in result:
        group.examples = examples(group.ops, graph)
        if group.kind in (FORWARD, COST, ACCURACY):
            group.notes = _notes(group, graph)
        elif group.kind == GRADIENTS:
            group.notes = _gradient_notes(group)
    _explain_once(result)
    if "z_log_sigma" in model.end_points:
        _vae_notes(model, result)
    return result


def _gradient_notes(group):
    """Which forward ops a gradient group differentiates, with each one's op count."""
    per_op = collections.Counter(_GRAD_OF.match(n).group(1) for n in group.ops
                                 if _GRAD_OF.match(n))
    if not per_op:
        return ["the seed (Fill: d cost / d cost = 1) and the AddN that sums the gradients of a "
                "tensor read by several ops"]
    layer = group.title.split(" of the layer ", 1)[-1] + "/"
    shown = [f"{op.removeprefix(layer)} ({n})" for op, n in per_op.items()]
    more = f", ... ({len(shown) - SHOWN * 2} more)" if len(shown) > SHOWN * 2 else ""
    return ["ops per forward op it differentiates: " + ", ".join(shown[:SHOWN * 2]) + more]


_ONCE = {
    FORWARD: "each variable is several ops: the VariableV2 that holds its value, the Assign "
             "that writes its initial value (init runs it), the Identity `read` that the "
             "layer reads, and the ops under <var>/Initializer/ that compute the initial value "
             "(a random_uniform: shape, min, max, RandomUniform, sub, mul, add)",
    GRADIENTS: "each forward op gets a `<op>_grad` scope: its local derivative plus the shape "
               "bookkeeping that undoes broadcasting and reductions (a reduce_mean's gradient "
               "rebuilds its input's shape at run time, tiles the incoming gradient over it "
               "and divides by the count), so a 5-op cost has dozens of gradient ops",
}


def _explain_once(group_list):
    """The first layer with variables and the first gradient group explain what every later
    one holds."""
    for kind, text in _ONCE.items():
        first = next((g for g in group_list if g.kind == kind and
                      (kind != FORWARD or any(n.startswith("variables:") for n in g.notes))),
                     None)
        if first is not None:
            first.notes.append(text)


def vae_terms(model, cost_ops):
    """The VAE's sampling and cost terms, by op name: {random, exp, z, reconstruction, kl,
    mean} (`cost_ops`: the ops the cost adds beyond the forward pass)."""
    graph = model.graph
    sampling = ancestors([model.z])
    code = {model.end_points[k].op for k in ("z_mu", "z_log_sigma")}
    from_code, from_y = _descendants(graph, code), _descendants(graph, {model.y.op})
    in_order = [op for op in graph.get_operations() if op.name in cost_ops]
    kl = [op.name for op in in_order if op in from_code and op not in from_y]
    # y depends on z too: the reconstruction term is what y feeds before the terms meet.
    after_kl = _descendants(graph, {graph.get_operation_by_name(n) for n in kl})
    return dict(random=[op.name for op in graph.get_operations()
                        if op in sampling and op.type == "RandomStandardNormal"],
                exp=[op.name for op in graph.get_operations()
                     if op in sampling and op.type == "Exp"],
                z=model.z.op.name, mean=model.cost.op.name, kl=kl,
                reconstruction=[op.name for op in in_order
                                if op in from_y and op not in after_kl])


def _vae_notes(model, group_list):
    cost = next(g for g in group_list if g.kind == COST)
    terms = vae_terms(model, set(cost.ops))
    cost.notes += [f"reconstruction term: {', '.join(terms['reconstruction'])} (squared error "
                   "summed per example)",
                   f"KL term: {', '.join(terms['kl'])} (-0.5 * sum(1 + 2 log_sigma - mu^2 - "
                   f"exp(2 log_sigma))); {terms['mean']} averages their sum over the batch"]
    sampler = next(g for g in group_list if terms["z"] in g.ops)
    sampler.notes.append(f"reparameterization z = z_mu + exp(z_log_sigma) * epsilon: "
                         f"{terms['random'][0]} draws epsilon, {terms['exp'][0]} is "
                         f"exp(z_log_sigma), {terms['z']} is z")


def _descendants(graph, roots):
    """Every op that depends on the ops `roots` through data edges (roots included)."""
    consumers = collections.defaultdict(list)
    for op in graph.get_operations():
        for t in op.inputs:
            consumers[t.op].append(op)
    seen, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(consumers[op])
    return seen


def frozen(name, checkpoint=None, hparams=None):
    """What freezing `name` (its X -> Y export) kept, converted, removed and added.

    Args:
      checkpoint: a trained checkpoint of the model, a prefix or a run folder (its newest);
        default: freshly initialised weights, which give the same structure.
      hparams: hyperparameters overriding the lecture's (a variant's, e.g. bn_in_cond).

    Returns:
      (graph_def, list of Groups covering every node of the frozen graph, list of Groups of
      the training graph's ops that freezing removed).
    """
    hparams = registry.hparams(name, **(hparams or {}))
    model = registry.build_in_new_graph(name, **hparams)
    trained = {op.name: op for op in model.graph.get_operations()}
    roles = {n: g for g in groups(model) for n in g.ops}
    mean = np.zeros(model.x.shape.as_list()[1], np.float32) \
        if registry.get(name).subtracts_mean else None
    graph_def, _ = (freeze.build_export(checkpoints.resolve(checkpoint), name, hparams,
                                        mean_img=mean)
                    if checkpoint else freeze.build_fresh_export(name, mean, hparams))
    kept, converted, added = [], [], []
    for node in graph_def.node:
        op = trained.get(node.name)
        if op is None:
            added.append(node.name)
        elif op.type == "VariableV2" and node.op == "Const":
            converted.append(node.name)
        else:
            kept.append(node.name)
    present = {node.name for node in graph_def.node}
    removed = {}
    for op_name, op in trained.items():
        if op_name in present:
            continue
        kind = roles[op_name].kind
        if kind == FORWARD:
            title = ("removed: the variables' initializers and Assign ops"
                     if variable_of(op_name) else
                     "removed: forward ops Y does not need (a batch norm's training branch "
                     "and its moving-average updates)")
        else:
            title = f"removed: {kind}"
        removed.setdefault(title, Group(kind, title, [])).ops.append(op_name)
    return graph_def, [
        Group(FORWARD, "kept: the forward pass Y needs, under its training names", kept),
        Group(FORWARD, "variables that became Const (their values frozen in)", converted),
        Group(OTHER, "added by the export: the X/Y interface, bound placeholders, the mean",
              added),
    ], list(removed.values())


def examples(names, graph, most=SHOWN):
    """Up to `most` of the names that show what a group does: ops that compute first (Conv2D,
    Relu), then variables, then their Assign/read/initializer internals and constants."""
    def rank(name):
        op = graph.get_operation_by_name(name)
        if op.type == "VariableV2":
            return 1
        if op.type == "Const" or variable_of(name) is not None:
            return 2
        return 0
    return sorted(names, key=rank)[:most]  # sorted() is stable: creation order within a rank


def _examples(group):
    shown = ", ".join(group.examples or group.ops[:SHOWN])
    more = len(group.ops) - SHOWN
    return shown + (f", ... ({more} more)" if more > 0 else "")


def format_groups(group_list, markdown=False):
    """Report lines: one block per group (count, title, notes, example names)."""
    lines = []
    for g in group_list:
        if markdown:
            lines += [f"- **{g.title}** ({g.kind}): {len(g.ops)} ops, e.g. "
                      f"`{'`, `'.join(g.examples or g.ops[:SHOWN])}`"]
            lines += [f"  - {note}" for note in g.notes]
        else:
            lines += [f"{len(g.ops):5d}  {g.title}"]
            lines += [f"       {note}" for note in g.notes]
            lines += [f"       e.g. {_examples(g)}"]
    return lines


def summary(group_list):
    """Op counts by kind, in the order kinds first appear."""
    counts = collections.Counter()
    for g in group_list:
        counts[g.kind] += len(g.ops)
    return counts
