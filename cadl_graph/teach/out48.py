"""Out[48]'s graph rebuilt cell by cell, and the page that walks it.

    from cadl_graph.teach import out48, renames
    print(out48.lecture_cells_page(renames.lecture_names()))

The lecture builds its convolutional autoencoder (In[23]-[30]) and then its linear classifier
(In[41]-[47]) into one graph and prints every op name (Out[48]). `lecture_cells` replays those
cells with the package's own builders and records which ops each cell added;
`lecture_cells_page` renders that as Markdown (golden/lecture/out48_cells.md is a copy of it),
with each op's role from `cadl_graph.teach.explain.groups`.
"""

import collections
import dataclasses

from cadl_graph.compat import tf
from cadl_graph.data.datasets import IMAGE_SIZE, N_CLASSES, N_FEATURES
from cadl_graph.graphs import autoencoders, classifiers, registry
from cadl_graph.graphs.model import adam_minimize
from cadl_graph.teach import picture, renames
from cadl_graph.teach.explain import examples, groups


@dataclasses.dataclass
class Cell:
    """One lecture cell replayed: its code and the ops it added, in creation order."""

    cell: str
    code: str
    ops: list


def lecture_cells():
    """Out[48]'s graph rebuilt cell by cell, In[23]-[30] then In[41]-[47], with no reset.

    Each cell calls the package's own builders (the ones `sequence.lecture_sequence` composes),
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
        cell("In[25]", "n_filters = [16, 16, 16]; filter_sizes = [4, 4, 4]", lambda: None)
        z, Ws, shapes, _ = cell(
            "In[26]", "for each layer: W = tf.get_variable(...); "
            "tf.nn.relu(tf.nn.conv2d(current_input, W, ...))",
            lambda: autoencoders.conv_encoder(X_tensor, ae["n_filters"], ae["filter_sizes"]))
        cell("In[27]", "Ws.reverse(); shapes.reverse(); n_filters.reverse(); "
             "n_filters = n_filters[1:] + [1]", lambda: None)
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


_NOUNS = dict(placeholders="placeholder", forward="forward op", cost="cost op",
              accuracy="accuracy op", gradients="gradient op", optimizer="optimizer op",
              init="init op", other="other op")


def _counts(ops, roles, key, nouns=None):
    counts = collections.Counter(key(roles[name]) for name in ops)
    if nouns is None:
        return "; ".join(f"{n} {what}" for what, n in counts.items())
    return "; ".join(f"{n} {nouns[what]}{'s' if n != 1 else ''}" for what, n in counts.items())


CELLS_PAGE = "lecture/out48_cells.md"
# Where cell_pictures() go, and how the page (in golden/lecture/) links to them.
PICTURES = "out48"  # a folder under docs/graph-pages
PICTURE_LINK = "../../docs/graph-pages/out48/"


def _picture_name(index, cell):
    return f"{index:02d}-{cell.cell.strip('[]').replace('[', '')}.svg"


def cell_pictures():
    """{file name: Scene}: Out[48]'s finished graph drawn after each cell that adds ops, what
    the cell added highlighted and what later cells add drawn faint (one layout for all)."""
    graph, cells = lecture_cells()
    whole = picture.scene(registry.build_in_new_graph("lecture_sequence"))
    built, out = [], {}
    for i, c in enumerate(cells):
        if c.ops:
            built += c.ops
            out[_picture_name(i, c)] = picture.cell_scene(
                whole, built, c.ops, f"{c.cell} {c.code}: +{len(c.ops)} ops, "
                f"{len(built)} of {len(graph.get_operations())}")
    return out


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
    counts = renames.coverage(rows)
    carried = {ours_name for *_, ours_name in rows if ours_name}
    lines = [
        "# Out[48], cell by cell",
        "",
        "<!-- Generated by `cadl-graph explain_graph --lecture_cells`; tests/teach/test_explain.py "
        "fails when this copy is stale. Do not edit by hand. -->",
        "",
        f"The lecture builds its convolutional autoencoder (In[23]-[30]) and then its linear "
        f"classifier (In[41]-[47]) into one graph, never resetting it, and prints every op "
        f"name: {len(lecture_names)} names in TensorFlow 0.x. Built with TensorFlow "
        f"{tf.__version__}, the same cells make {len(ours)} ops. Of the lecture's "
        f"{len(lecture_names)} names, {counts['identical']} are identical here, "
        f"{counts['renamed']} are here under a new name, and {counts['gone']} named gradient "
        f"internals that TensorFlow no longer creates ({counts['unexplained']} unexplained; "
        "`cadl_graph/teach/renames.py` holds a rule for each, and tests/teach/test_out48.py "
        "prints these counts as its coverage line). The "
        f"{counts['identical'] + counts['renamed']} names still here are {len(carried)} of our "
        f"ops (the lecture's `Slice` and `Squeeze` are one `strided_slice` now, for one); the "
        f"other {len(ours) - len(carried)} ops are new. Below, each cell's code, how many ops "
        "it added, what they are, and a picture of the graph after it.",
        "",
        "| cell | code | ops | what they are | e.g. |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in cells:
        shown = ", ".join(f"`{n}`" for n in examples(c.ops, graph, 3)) + \
            (", ..." if len(c.ops) > 3 else "")
        what = _counts(c.ops, roles, lambda g: g.kind, _NOUNS) if c.ops else \
            "none: plain Python (lists and their order), no TensorFlow call"
        lines.append(f"| {c.cell} | `{c.code}` | {len(c.ops)} | {what} | {shown} |")
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
    lines += ["", "## The graph after each cell", "",
              "Each picture is the finished graph, laid out once (see "
              "[teaching.md](../../docs/teaching.md#pictures) for how to read it): the boxes "
              "the cell added ops to have an orange border and say how many, what later cells "
              "add is faint. In[25] and In[27] add no op and have no picture.", ""]
    for i, c in enumerate(cells):
        if c.ops:
            lines += [f"### {c.cell} `{c.code}`", "",
                      f"![after {c.cell}]({PICTURE_LINK}{_picture_name(i, c)})", ""]
    return "\n".join(lines)
