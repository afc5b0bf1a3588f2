"""A graph as a picture: the groups of explain.py as boxes, data flow as arrows.

    from cadl_graph.graphs import registry
    from cadl_graph.teach import picture
    from cadl_graph.teach import drawing
    scene = picture.scene(registry.build_in_new_graph("fc_autoencoder"))
    drawing.save(scene, "fc_autoencoder.svg")

TensorBoard's Graphs tab collapses a graph by name scope; this picture collapses it by what made
each op (explain.groups), and draws what the lecture is about:

- the forward pass runs down the left, layer by layer; each layer is two boxes, its variables
  (VariableV2 with its Assign, read and initializer ops) and its compute;
- the backward pass runs up beside it: the gradients of each layer sit on that layer's row;
- a tied decoder layer reading an encoder layer's W is a red arrow from the encoder's
  variables (the lecture's In[28]);
- a batch norm's tf.cond is its own box; its moving-average update is a red box outside the
  cond when it runs at inference too (the course's flaw), or held inside the cond's box;
- Adam's slots, accumulators and update, and `init`, sit at the bottom, with the update's
  writes to every variable drawn as thin blue arrows.

scene() returns plain data (boxes with op counts and rows, edges with their kind); the layout
and drawing are cadl_graph.viz.drawing's. Every op is in exactly one box, so the boxes'
counts add up to the graph's.
"""

import collections
import dataclasses
import hashlib

from cadl_graph.teach import explain

# What a box holds; drawing colours boxes by it.
PLACEHOLDERS, VARIABLES, COMPUTE, COND = "placeholders", "variables", "compute", "cond"
NORMALIZE = "normalize"  # a batch norm's compute after its cond: (x - mean) / sqrt(var) ...
UPDATE_OUTSIDE = "update_outside_cond"  # a batch norm's moving-average update outside its cond
COST, ACCURACY, GRADIENTS = "cost", "accuracy", "gradients"
OPTIMIZER, OPTIMIZER_STATE, INIT, OTHER = "optimizer", "optimizer_state", "init", "other"
# frozen_scene(): variables whose values became Const nodes, what freezing removed, and what
# the export added.
FROZEN_CONST, REMOVED, ADDED = "frozen_const", "removed", "added"
# How an arrow is drawn: data flow, a control dependency, a tied weight, a gradient reading
# the forward pass, the optimizer writing a variable, init running an initializer.
DATA, CONTROL, TIED, READS, WRITES, INITIALIZES = (
    "data", "control", "tied", "reads", "writes", "initializes")
# A placeholder read by many boxes (phase_train by every batch norm) would draw arrows across
# the whole picture, as TensorBoard's would without its "auxiliary nodes": its box says whom it
# feeds instead.
FEEDS = "feeds"
MAX_FAN_OUT = 3
NEW, LATER = "new", "later"
_MOVING_AVERAGE = "ExponentialMovingAverage"


@dataclasses.dataclass
class Box:
    """One group of ops, drawn as one box.

    Attributes:
      key: a unique id (the group's title and part).
      title: the first line, e.g. "encoder/layer/0: compute".
      kind: one of the box kinds above.
      ops: the ops' names, in creation order.
      row: layer of the drawing, 0 at the top.
      column: 0 for the forward side, 1 for the backward side and the optimizer.
      note: a second line saying what to notice (op types, a cond's update).
    """

    key: str
    title: str
    kind: str
    ops: list
    row: int = 0
    column: int = 0
    note: str = ""
    state: str = ""  # cell_scene(): NEW (the cell added ops to it), LATER (not built yet)


@dataclasses.dataclass
class Scene:
    """A picture before layout: boxes, and edges {(from key, to key): (kind, tensor count)}."""

    title: str
    boxes: list
    edges: dict

    def to_json(self):
        """Plain data, stable across runs: what a test compares to tell a stale picture (a
        box's op names as their count and a digest, to keep the pictures small)."""
        boxes = []
        for box in self.boxes:
            data = dataclasses.asdict(box)
            names = "\n".join(data.pop("ops")).encode()
            boxes.append(dict(data, ops=len(box.ops),
                              ops_sha256=hashlib.sha256(names).hexdigest()))
        return dict(title=self.title, boxes=boxes,
                    edges=[[a, b, kind, n] for (a, b), (kind, n) in self.edges.items()])


def _types(names, graph):
    return explain.type_summary([graph.get_operation_by_name(n) for n in names], 3)


def _signature(graph, name):
    output = graph.get_operation_by_name(name).outputs[0]
    return f"{output.dtype.name} {output.shape}"


def _is_variable_op(op, variables):
    return op.type == "VariableV2" or explain.variable_of(op.name) in variables


def _split_layer(group, graph, variables):
    """A forward group's boxes: variables, compute, and for a batch norm its cond and update."""
    layer = group.title.removeprefix("layer ").replace("(top level)", "top level")
    parts = collections.defaultdict(list)
    after_cond = set()
    for name in group.ops:
        op = graph.get_operation_by_name(name)
        if _is_variable_op(op, variables):
            parts[VARIABLES].append(name)
        elif "/cond/" in name:
            parts[COND].append(name)
            after_cond.add(name)
        elif _MOVING_AVERAGE in name:
            parts[UPDATE_OUTSIDE].append(name)
        elif any(t.op.name in after_cond for t in op.inputs):
            parts[NORMALIZE].append(name)  # reads what the cond chose
            after_cond.add(name)
        else:
            parts[COMPUTE].append(name)
    # A constant goes with the part that reads it (a batch norm's epsilon with its normalize).
    part_of = {n: part for part, names in parts.items() for n in names}
    for name in list(parts[COMPUTE]):
        op = graph.get_operation_by_name(name)
        readers = {part_of[c.name] for t in op.outputs for c in t.consumers()
                   if c.name in part_of}
        if not op.inputs and len(readers) == 1 and COMPUTE not in readers:
            parts[COMPUTE].remove(name)
            parts[readers.pop()].append(name)
    compute = _components(parts.pop(COMPUTE, []), graph)
    holds_update = any(_MOVING_AVERAGE in n for n in parts[COND])
    notes = {
        VARIABLES: ", ".join(f"{graph.get_operation_by_name(n).outputs[0].shape}"
                             for n in parts[VARIABLES]
                             if graph.get_operation_by_name(n).type == "VariableV2"),
        NORMALIZE: _types(parts[NORMALIZE], graph),
        COND: ("holds the moving-average update: training only"
               if holds_update else "Switch/Merge pick batch or moving statistics"),
        UPDATE_OUTSIDE: "OUTSIDE the cond: runs at inference too",
    }
    titles = {VARIABLES: "variables", COMPUTE: "batch moments" if parts[COND] else "compute",
              COND: "tf.cond", UPDATE_OUTSIDE: "moving-average update",
              NORMALIZE: "normalize"}
    boxes = [Box(f"{layer}:{part}", f"{layer}: {titles[part]}", part, parts[part],
                 note=notes[part])
             for part in (VARIABLES, UPDATE_OUTSIDE, COND, NORMALIZE) if parts[part]]
    for i, ops in enumerate(compute):  # before the cond's boxes: they read it
        suffix = f" {i + 1}" if len(compute) > 1 else ""
        boxes.insert(bool(parts[VARIABLES]) + i, Box(
            f"{layer}:{COMPUTE}{suffix}", f"{layer}: {titles[COMPUTE]}{suffix}", COMPUTE, ops,
            note=_types(ops, graph)))
    return boxes


def _components(names, graph):
    """Ops split where they do not touch: a scope's unconnected pieces (the VAE's
    `variational` scope flattens, samples z and reshapes at three places of the graph), in
    order of their first op."""
    parent = {n: n for n in names}

    def root(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for name in names:
        op = graph.get_operation_by_name(name)
        for source in [t.op for t in op.inputs] + list(op.control_inputs):
            if source.name in parent:
                parent[root(source.name)] = root(name)
    pieces = {}
    for name in names:
        pieces.setdefault(root(name), []).append(name)
    return list(pieces.values())


def _boxes(model):
    graph = model.graph
    variables = {op.name for op in graph.get_operations() if op.type == "VariableV2"}
    boxes = []
    for group in explain.groups(model):
        if group.kind == explain.FORWARD:
            boxes += _split_layer(group, graph, variables)
            continue
        kind = {explain.PLACEHOLDERS: PLACEHOLDERS, explain.COST: COST,
                explain.ACCURACY: ACCURACY, explain.GRADIENTS: GRADIENTS,
                explain.INIT: INIT}.get(group.kind, OTHER)
        if group.kind == explain.PLACEHOLDERS:  # one box each: they feed different places
            boxes += [Box(name, name, PLACEHOLDERS, [name], note=_signature(graph, name))
                      for name in group.ops]
            continue
        note = _types(group.ops, graph)
        if group.kind == explain.OPTIMIZER:
            kind = OPTIMIZER if group.title.endswith("(ApplyAdam per variable)") \
                else OPTIMIZER_STATE
        boxes.append(Box(group.title, group.title, kind, list(group.ops), note=note))
    return boxes


def _edge_kind(source, target, control):
    if target.kind == INIT:
        return INITIALIZES
    if source.kind == VARIABLES and target.kind == OPTIMIZER:
        return WRITES
    if target.kind == GRADIENTS and source.kind not in (GRADIENTS, COST):
        return READS
    if (source.kind == VARIABLES and target.kind in (COMPUTE, COND, NORMALIZE)
            and source.key.split(":")[0] != target.key.split(":")[0]):
        return TIED
    return CONTROL if control else DATA


def _edges(boxes, graph, main_input):
    box_of = {name: b for b in boxes for name in b.ops}
    edges = {}
    for op in graph.get_operations():
        target = box_of[op.name]
        sources = [(t.op, False) for t in op.inputs] + [(c, True) for c in op.control_inputs]
        for source_op, control in sources:
            source = box_of[source_op.name]
            if source is target:
                continue
            kind = _edge_kind(source, target, control)
            old_kind, n = edges.get((source.key, target.key), (kind, 0))
            edges[(source.key, target.key)] = (old_kind if old_kind == DATA else kind, n + 1)
    for box in boxes:
        if box.kind != PLACEHOLDERS:
            continue
        fed = [k for k in edges if k[0] == box.key and edges[k][0] in (DATA, CONTROL)]
        if not fed:
            box.note += "; read by no op"
        if len(fed) > MAX_FAN_OUT and box.key != main_input:  # x's arrows are the story
            for key in fed:
                edges[key] = (FEEDS, edges[key][1])
            box.note += f"; feeds {len(fed)} boxes (arrows not drawn)"
    return dict(sorted(edges.items()))  # init's control inputs come in no fixed order


def _rows(boxes, edges):
    """Rows: the forward side by longest path; a layer's variables on the row above its first
    reader; gradients on their layer's row; the optimizer and init below everything."""
    by_key = {b.key: b for b in boxes}
    forward = [b for b in boxes if b.kind not in (VARIABLES, GRADIENTS, OPTIMIZER,
                                                  OPTIMIZER_STATE, INIT)]
    forward_keys = {b.key for b in forward}
    parents = collections.defaultdict(list)
    for (a, b), (kind, _) in edges.items():
        if a in forward_keys and b in forward_keys and kind in (DATA, CONTROL):
            parents[b].append(a)
    row = _longest_paths([b.key for b in forward], parents)
    for box in forward:
        box.row = row[box.key]
    readers = collections.defaultdict(list)
    for (a, b), (kind, _) in edges.items():
        if by_key[a].kind == VARIABLES and by_key[b].key in forward_keys:
            readers[a].append(by_key[b].row)
    for box in boxes:
        if box.kind == VARIABLES:
            box.row = max(0, min(readers[box.key], default=1) - 1)
    bottom = max(b.row for b in boxes) + 1
    layer_row = {}
    for b in forward:  # a layer's gradients sit on the row of its last compute box
        if b.kind in (COMPUTE, NORMALIZE):
            layer_row[b.key.split(":")[0]] = b.row
    cost_row = max((b.row for b in boxes if b.kind == COST), default=bottom - 1)
    for box in boxes:
        if box.kind == GRADIENTS:
            box.column = 1
            of = box.title.replace("(top level)", "top level").split(" of the layer ", 1)
            box.row = layer_row.get(of[1], cost_row) if len(of) == 2 else cost_row + 1
        elif box.kind in (OPTIMIZER_STATE, INIT):
            box.column, box.row = 1, bottom + 1
        elif box.kind == OPTIMIZER:
            box.column, box.row = 1, bottom + 2


def _longest_paths(keys, parents):
    """{key: 1 + the largest row of its parents} (0 without parents), in topological order;
    a box caught in a cycle takes its place in creation order."""
    row, pending = {}, list(keys)
    while pending:
        ready = [k for k in pending if all(p in row for p in parents[k])] or pending[:1]
        for key in ready:
            row[key] = 1 + max((row[p] for p in parents[key] if p in row), default=-1)
            pending.remove(key)
    return row


def scene(model, title=None):
    """The picture of `model` (a graphs.model.Model) before layout: a Scene."""
    graph = model.graph
    boxes = _boxes(model)
    edges = _edges(boxes, graph, model.x.op.name)
    _rows(boxes, edges)
    n_ops = len(graph.get_operations())
    assert sum(len(b.ops) for b in boxes) == n_ops, "every op is in exactly one box"
    return Scene(title or f"{n_ops} ops in {len(boxes)} boxes", boxes, edges)


def frozen_scene(name, checkpoint=None, hparams=None):
    """The live graph's forward side, each box saying what freezing did to its ops (kept,
    turned into Const, removed), beside one box for the training machinery freezing removed
    and one for what the export added (explain.frozen's groups, drawn)."""
    from cadl_graph.graphs import registry  # here: registry imports the builders, this not

    graph_def, (kept, converted, added), _ = explain.frozen(name, checkpoint, hparams)
    model = registry.build_in_new_graph(name, **registry.hparams(name, **(hparams or {})))
    live = scene(model)
    kept, converted = set(kept.ops), set(converted.ops)
    boxes = [b for b in live.boxes if b.column == 0]
    for box in boxes:
        k = sum(n in kept for n in box.ops)
        c = sum(n in converted for n in box.ops)
        box.note = f"kept {k}, Const {c}, removed {len(box.ops) - k - c}"
        if c:
            box.kind = FROZEN_CONST
        elif not k:
            box.kind = REMOVED
    gone = [n for b in live.boxes if b.column == 1 for n in b.ops]
    boxes.append(Box("removed:training", "removed: gradients, Adam, init", REMOVED, gone,
                     column=1, note="freezing keeps only what Y needs"))
    boxes.append(Box("added", "added by the export: X, Y, bound inputs", ADDED,
                     list(added.ops), column=1, row=1, note=_fit_names(added.ops)))
    keys = {b.key for b in boxes}
    edges = {pair: value for pair, value in live.edges.items()
             if pair[0] in keys and pair[1] in keys}
    n_ops = len(model.graph.get_operations())
    return Scene(f"{name}, frozen: {len(graph_def.node)} of {n_ops} ops kept or added",
                 boxes, edges)


def _fit_names(names, most=3):
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


def cell_scene(whole, built, added, title):
    """`whole` (the finished graph's Scene) as it stood after one lecture cell: boxes holding
    ops of `added` are NEW (their note counts what the cell added), boxes holding none of
    `built` yet are LATER (drawn faint), so every cell's picture has the same layout."""
    built, added = set(built), set(added)
    boxes = []
    for box in whole.boxes:
        now = sum(n in added for n in box.ops)
        state = NEW if now else ("" if any(n in built for n in box.ops) else LATER)
        note = f"+{now} ops in this cell, {sum(n in built for n in box.ops)} of " \
               f"{len(box.ops)} built" if now else box.note
        boxes.append(dataclasses.replace(box, state=state, note=note))
    return Scene(title, boxes, dict(whole.edges))
