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
from cadl_graph.data.datasets import IMAGE_SIZE, N_CLASSES, N_FEATURES
from cadl_graph.export import freeze as export
from cadl_graph.graphs import autoencoders, classifiers, registry
from cadl_graph.graphs.model import adam_minimize, ancestors
from cadl_graph.teach import renames
from cadl_graph.training import kinds

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


def _scope(name):
    return name.rsplit("/", 1)[0] if "/" in name else ""


class _Layers:
    """Maps op names to the layer (variable or end-point scope) they belong to."""

    def __init__(self, model):
        graph = model.graph
        self.ops = {op.name for op in graph.get_operations()}
        # Trainable variables and end points mark layers; an EMA's shadow variables
        # (`<bn>/<bn>/moments/Squeeze/ExponentialMovingAverage`) belong to their batch norm.
        scopes = {_scope(v.op.name)
                  for v in graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)}
        scopes |= {_scope(t.op.name) for t in model.end_points.values()}
        self.scopes = sorted(scopes - {""}, key=len, reverse=True)

    def of(self, name):
        for scope in self.scopes:
            if name.startswith(scope + "/"):
                return scope
        scope = _scope(name)
        while scope in self.ops:  # `Reshape/shape` is part of the op `Reshape`
            scope = _scope(scope)
        return scope


def _variable_of(name):
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
    variable = name if op.type == "VariableV2" else _variable_of(name)
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
    types = collections.Counter(op.type for op in ops)
    notes.append("types: " + ", ".join(f"{n} {t}" for t, n in types.most_common(6)) +
                 (", ..." if len(types) > 6 else ""))
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
        if group.kind in (FORWARD, COST, ACCURACY):
            group.notes = _notes(group, graph)
    return result


def frozen(name, checkpoint=None):
    """What freezing `name` (its X -> Y export) kept, converted, removed and added.

    Args:
      checkpoint: a trained checkpoint prefix of the model; default: freshly initialised
        weights, which give the same structure.

    Returns:
      (graph_def, list of Groups covering every node of the frozen graph, list of Groups of
      the training graph's ops that freezing removed).
    """
    model = registry.build_in_new_graph(name)
    trained = {op.name: op for op in model.graph.get_operations()}
    roles = {n: g for g in groups(model) for n in g.ops}
    mean = np.zeros(model.x.shape.as_list()[1], np.float32) \
        if kinds.of(name).subtracts_mean else None
    graph_def, _ = (export.build_export(checkpoint, name, registry.hparams(name), mean_img=mean)
                    if checkpoint else export.build_fresh_export(name, mean))
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
                     if _variable_of(op_name) else
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


def _examples(ops):
    shown = ", ".join(ops[:SHOWN])
    return shown + (f", ... ({len(ops) - SHOWN} more)" if len(ops) > SHOWN else "")


def format_groups(group_list, markdown=False):
    """Report lines: one block per group (count, title, notes, example names)."""
    lines = []
    for g in group_list:
        if markdown:
            lines += [f"- **{g.title}** ({g.kind}): {len(g.ops)} ops, e.g. "
                      f"`{'`, `'.join(g.ops[:SHOWN])}`"]
            lines += [f"  - {note}" for note in g.notes]
        else:
            lines += [f"{len(g.ops):5d}  {g.title}"]
            lines += [f"       {note}" for note in g.notes]
            lines += [f"       e.g. {_examples(g.ops)}"]
    return lines


def summary(group_list):
    """Op counts by kind, in the order kinds first appear."""
    counts = collections.Counter()
    for g in group_list:
        counts[g.kind] += len(g.ops)
    return counts


@dataclasses.dataclass
class Cell:
    """One lecture cell replayed: its code and the ops it added, in creation order."""

    cell: str
    code: str
    ops: list


def lecture_cells():
    """Out[48]'s graph rebuilt cell by cell, In[23]-[30] then In[41]-[47], with no reset.

    Each cell calls the package's own builders (the ones `registry.lecture_sequence` composes),
    with the registry's values, and records the ops it added. The result is the registry's
    `lecture_sequence` graph op for op (tests check it), so the page made from it cannot drift.

    Returns:
      (graph, list of Cells).
    """
    ae = registry.get("conv_autoencoder").hparams
    rate = registry.get("lecture_sequence").hparams["learning_rate"]
    graph, cells = tf.Graph(), []

    def cell(label, code, make):
        before = len(graph.get_operations())
        result = make()
        cells.append(Cell(label, code, [op.name for op in graph.get_operations()[before:]]))
        return result

    with graph.as_default():
        X = cell("In[23]", "X = tf.placeholder(tf.float32, [None, n_features])",
                 lambda: tf.placeholder(tf.float32, [None, N_FEATURES]))
        X_tensor = cell("In[24]", "X_tensor = tf.reshape(X, [-1, 28, 28, 1])",
                        lambda: tf.reshape(X, [-1, IMAGE_SIZE, IMAGE_SIZE, 1]))
        z, Ws, shapes, _ = cell(
            "In[26]", "for each layer: W = tf.get_variable(...); "
            "tf.nn.relu(tf.nn.conv2d(current_input, W, ...))",
            lambda: autoencoders.conv_encoder(X_tensor, ae["n_filters"], ae["filter_sizes"]))
        decoded, _ = cell(
            "In[28]", "for each layer: tf.nn.relu(tf.nn.conv2d_transpose(current_input, W, "
            "tf.stack([tf.shape(X)[0], ...]), ...))",
            lambda: autoencoders.conv_decoder(z, Ws, shapes, X))
        Y = cell("In[29]", "Y = tf.reshape(current_input, [-1, n_features])",
                 lambda: tf.reshape(decoded, [-1, N_FEATURES]))
        cost = cell("In[30]", "cost = tf.reduce_mean(tf.reduce_mean("
                    "tf.squared_difference(X, Y), 1))",
                    lambda: autoencoders.reconstruction_cost(X, Y))
        cell("In[30]", "optimizer = tf.train.AdamOptimizer(learning_rate).minimize(cost)",
             lambda: adam_minimize(cost, rate))
        cell("In[30]", "sess.run(tf.global_variables_initializer())",
             tf.global_variables_initializer)
        X = cell("In[41]", "X = tf.placeholder(tf.float32, [None, n_input])",
                 lambda: tf.placeholder(tf.float32, [None, N_FEATURES]))
        Y = cell("In[42]", "Y = tf.placeholder(tf.float32, [None, n_output])",
                 lambda: tf.placeholder(tf.float32, [None, N_CLASSES]))
        Y_pred, _, _ = cell("In[43]", "Y_pred, W = utils.linear(x=X, n_output=n_output, "
                            "activation=tf.nn.softmax, name='layer1')",
                            lambda: classifiers.linear_net(X))
        cross_entropy = cell("In[44]", "cross_entropy = -tf.reduce_sum(Y * tf.log(Y_pred + 1e-12))",
                             lambda: classifiers.cross_entropy(Y, Y_pred))
        cell("In[44]", "optimizer = tf.train.AdamOptimizer(0.001).minimize(cross_entropy)",
             lambda: adam_minimize(cross_entropy, rate))
        predicted = cell("In[45]", "predicted_y = tf.argmax(Y_pred, 1); "
                         "actual_y = tf.argmax(Y, 1)",
                         lambda: classifiers.predictions(Y_pred, Y))
        cell("In[46]", "correct_prediction = tf.equal(predicted_y, actual_y); "
             "accuracy = tf.reduce_mean(tf.cast(correct_prediction, 'float'))",
             lambda: classifiers.share_equal(*predicted))
        cell("In[47]", "sess.run(tf.global_variables_initializer())",
             tf.global_variables_initializer)
    return graph, cells


def _counts(ops, roles, key):
    counts = collections.Counter(key(roles[name]) for name in ops)
    return "; ".join(f"{n} {what}" for what, n in counts.items())


CELLS_PAGE = "lecture/out48_cells.md"


def lecture_cells_page(lecture_names):
    """The Markdown page that walks Out[48]'s graph cell by cell.

    Args:
      lecture_names: the names the lecture printed (golden/lecture/out48.txt).
    """
    graph, cells = lecture_cells()
    model = registry.build_in_new_graph("lecture_sequence")
    roles = {name: g for g in groups(model) for name in g.ops}
    ours = [op.name for op in graph.get_operations()]
    rows = renames.explain(lecture_names, ours)
    printed = collections.Counter(ours_name for *_, ours_name in rows if ours_name)
    gone = sum(1 for *_, ours_name in rows if ours_name is None)
    lines = [
        "# Out[48], cell by cell",
        "",
        "<!-- Generated by `scripts/explain_graph.py --lecture_cells`; tests/test_explain.py "
        "fails when this copy is stale. Do not edit by hand. -->",
        "",
        f"The lecture builds its convolutional autoencoder (In[23]-[30]) and then its linear "
        f"classifier (In[41]-[47]) into one graph, never resetting it, and prints every op "
        f"name: {len(lecture_names)} names in TensorFlow 0.x. Built with TensorFlow "
        f"{tf.__version__}, the same cells make {len(ours)} ops; {sum(printed.values())} of "
        f"the lecture's names are still here (some renamed, see `cadl_graph/renames.py`) and "
        f"{gone} named gradient internals that TensorFlow no longer creates. Below, each "
        "cell's code, how many ops it added, and what they are.",
        "",
        "| cell | code | ops | what they are | e.g. |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in cells:
        examples = ", ".join(f"`{n}`" for n in c.ops[:3]) + (", ..." if len(c.ops) > 3 else "")
        lines.append(f"| {c.cell} | `{c.code}` | {len(c.ops)} | "
                     f"{_counts(c.ops, roles, lambda g: g.kind)} | {examples} |")
    total = sum(len(c.ops) for c in cells)
    lines += [
        f"| | | **{total}** | | |",
        "",
        "## Why the second half is named `_1`",
        "",
        "A graph's op names are unique. When a cell asks for a name that an earlier cell "
        "already took, TensorFlow appends `_1`, `_2`, ...: In[41]'s `X` is `Placeholder_1` "
        "and In[42]'s `Y` is `Placeholder_2` because In[23]'s `X` is `Placeholder`; In[44]'s "
        "`minimize` puts its gradients under `gradients_1/` and its update under `Adam_1`, "
        "and its accumulators are `beta1_power_1` and `beta2_power_1`, because In[30]'s "
        "took the plain names; In[47]'s initializer is `init_1`. Variables are different: "
        "`tf.get_variable` refuses a name that exists, which is why every layer opens its own "
        "`variable_scope` (`encoder/layer/0`, `layer1`, ...). In[47]'s `init_1` initialises "
        "every variable of the graph, the autoencoder's included, because "
        "`tf.global_variables_initializer()` collects all of them.",
        "",
        "## What `minimize` adds",
        "",
        "Most of the graph is not the model: each `minimize` call differentiates the cost "
        "back through every op (`gradients/<op>_grad/...`), then adds Adam's state (two slots "
        "per trainable variable, two accumulators) and one update op per variable:",
        "",
    ]
    for c in cells:
        if "minimize" in c.code:
            lines.append(f"- {c.cell} `{c.code}`: {len(c.ops)} ops: "
                         f"{_counts(c.ops, roles, lambda g: g.title)}.")
    lines.append("")
    return "\n".join(lines)
