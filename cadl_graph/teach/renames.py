"""Why an op name printed by the lecture (TensorFlow 0.x, 2016) differs in our graph.

The lecture's Out[48] lists the op names of the conv autoencoder and linear classifier cells
built into one graph. Building the same cells with TensorFlow 2.21's v1 API gives the same
variables, slots, placeholders and forward ops, but TensorFlow has since renamed some ops and
rewritten some gradient functions. Each rule below matches lecture names, says what they are
called now (or that they no longer exist), and why. `explain` applies the rules and checks that
every claimed replacement really is in our graph, so a rule cannot paper over a real
difference.
"""

import dataclasses
import re
from typing import Callable, Optional

from cadl_graph.golden import listing

# The op names the lecture printed in Out[48], one per line, shipped with the goldens.
OUT48 = listing.GOLDEN_DIR / "lecture" / "out48.txt"

IDENTICAL, RENAMED, UNEXPLAINED = "identical", "renamed", "unexplained"


def lecture_names():
    """The op names the lecture printed in Out[48], in its order."""
    return listing.parse(OUT48.read_text(encoding="utf-8"))


@dataclasses.dataclass(frozen=True)
class Rule:
    """One documented rename.

    Attributes:
      name: short label for reports.
      pattern: regex the whole lecture name must match.
      target: maps (match, our_names_in_order) to the name that must exist in our graph, or
        to None when the op no longer exists (then `requires` must hold).
      requires: for removed ops, a regex replacement on the lecture name giving a name prefix
        that must exist in our graph (e.g. the gradient scope the internal op lived in).
      reason: why the name changed.
    """

    name: str
    pattern: str
    target: Callable[[re.Match, list], Optional[str]]
    reason: str
    requires: Optional[str] = None


def _sub(template):
    return lambda match, ours: match.expand(template)


def _nth_slot_initializer(match, ours):
    slots = [n for n in ours if re.fullmatch(r".+/Adam(_1)?/Initializer/zeros", n)]
    k = int(match.group(1) or 0)
    return slots[k] if k < len(slots) else f"<slot initializer #{k}: none>"


_GRAD = r"(gradients(?:_\d+)?)"

RULES = [
    Rule("pack->stack", r"(.*/)?pack(/\d+)?", _sub(r"\1stack\2"),
         "tf.pack was renamed tf.stack in TensorFlow 1.0; its op is named after the function "
         "(type Pack either way)."),
    Rule("Slice+Squeeze->strided_slice", r"(.*/)?(Slice|Squeeze)",
         _sub(r"\1strided_slice"),
         "Indexing a tensor (tf.shape(X)[0]) was Slice then Squeeze in TensorFlow 0.x; since "
         "0.12 it is one StridedSlice op named strided_slice."),
    Rule("Slice/begin,size->strided_slice/stack", r"(.*/)?Slice/(begin|size)",
         lambda m, ours: f"{m.group(1) or ''}strided_slice/"
                         f"{'stack' if m.group(2) == 'begin' else 'stack_1'}",
         "The begin/size constants of Slice became the begin/end/strides constants of "
         "StridedSlice (strided_slice/stack, stack_1, stack_2)."),
    Rule("axis->reduction_indices", r"(.*)/axis", _sub(r"\1/reduction_indices"),
         "The constant holding a reduction's axis is named after the argument that created "
         "it; tf.compat.v1's reductions pass it as reduction_indices."),
    Rule("Rank+range->Const", r"(?:Rank|range)(_\d+)?(?:/start|/delta)?", _sub(r"Const\1"),
         "A reduction over all axes computed its axes at run time as range(rank(x)); "
         "TensorFlow now emits them as one constant when the rank is known."),
    Rule("zeros->slot/Initializer/zeros", r"zeros(?:_(\d+))?", _nth_slot_initializer,
         "Adam's slot initializers were top-level zeros, zeros_1, ... in creation order; they "
         "are now created inside each slot's scope as <var>/Adam(_1)/Initializer/zeros."),
    Rule("grad_ys", _GRAD + r"/(Const|Fill)",
         lambda m, ours: f"{m.group(1)}/grad_ys_0" + ("/Const" if m.group(2) == "Const" else ""),
         "The initial gradient d(cost)/d(cost) = 1 is now named grad_ys_0."),
    Rule("Inv->Reciprocal", _GRAD + r"/(.+)/Inv", _sub(r"\1/\2/Reciprocal"),
         "The Inv op was renamed Reciprocal (TensorFlow 1.0)."),
    Rule("mul->Mul in gradients", _GRAD + r"/(.+_grad)/mul(_1)?", _sub(r"\1/\2/Mul\3"),
         "Gradient functions now create their products with the Mul op's default name."),
    Rule("Shape->ShapeN in Conv2D gradients", _GRAD + r"/(.+/Conv2D_grad)/Shape(?:_1)?",
         _sub(r"\1/\2/ShapeN"),
         "Conv2D's gradient now takes both input shapes with one ShapeN op."),
    Rule("gradient internals", _GRAD + r"/(.+_grad)/.+", lambda m, ours: None,
         "The gradient functions of Mean, Sum, add, Reshape and Softmax were rewritten "
         "(static shapes, BroadcastTo and GatherV2 instead of DynamicStitch, Fill and "
         "floordiv); the gradient of the same forward op exists, with other internals.",
         requires=r"\1/\2/"),
]


def explain(lecture_names, our_names, rules=RULES):
    """Classifies each lecture name as identical, renamed (by a verified rule) or unexplained.

    Returns:
      list of (lecture_name, status, rule_name or None, our_name or None), in lecture order.
    """
    ours = list(our_names)
    our_set = set(ours)
    rows = []
    for name in lecture_names:
        if name in our_set:
            rows.append((name, IDENTICAL, None, name))
            continue
        row = (name, UNEXPLAINED, None, None)
        for rule in rules:
            match = re.fullmatch(rule.pattern, name)
            if not match:
                continue
            target = rule.target(match, ours)
            if target is not None and target in our_set:
                row = (name, RENAMED, rule.name, target)
                break
            if target is None and rule.requires:
                prefix = match.expand(rule.requires)
                if any(n.startswith(prefix) for n in ours):
                    row = (name, RENAMED, rule.name, None)
                    break
        rows.append(row)
    return rows


def coverage(rows):
    """{identical, renamed, gone, unexplained: count}: a renamed name is here under another
    name; a gone one named a gradient internal that TensorFlow no longer creates."""
    counts = dict(identical=0, renamed=0, gone=0, unexplained=0)
    for _, status, _, ours in rows:
        counts["gone" if status == RENAMED and ours is None else status] += 1
    return counts


def coverage_line(rows):
    counts = coverage(rows)
    return (f"Out[48] coverage: {len(rows)} lecture names: {counts['identical']} identical, "
            f"{counts['renamed']} renamed, {counts['gone']} no longer created, "
            f"{counts['unexplained']} unexplained")
