"""Every registry graph (and each variant) against its golden op listing."""

import functools
import hashlib

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.golden import listing
from cadl_graph.graphs import classifiers, registry, vae
from cadl_graph.graphs.batch_norm import batch_norm
from cadl_graph.training import cluster, loop, session, step_loop

# The course's graphs, then each named variant (the repaired batch norm) of the models it
# applies to, each in its own golden.
CASES = [(name, None) for name in registry.NAMES] + [
    (name, variant) for name in registry.NAMES for variant in registry.variants(name)]


@pytest.mark.parametrize("name, variant", CASES)
def test_graph_matches_golden(name, variant, project_golden):
    model = registry.build_in_new_graph(name, **registry.variant_hparams(name, variant))
    project_golden.check(model.graph, listing.golden_path(name, f"{variant}.ops" if variant
                                                         else "ops").name,
                         title=f"{name}, variant {variant}" if variant else name,
                         hparams=model.hparams)


# A cluster's synchronous training wraps Adam in SyncReplicasOptimizer: a graph of its own.
SYNC_MODELS = ("linear_classifier",)


@pytest.mark.parametrize("name", SYNC_MODELS)
def test_sync_replicas_graph_matches_its_golden(name, project_golden):
    graph, _ = cluster.placed_graph(name, workers=2, sync=True)
    project_golden.check(graph, listing.golden_path(name, "sync_replicas.ops").name,
                         title=f"{name}, worker 0 of 2 with one ps, sync replicas",
                         hparams={"workers": 2, "ps": 1, "sync_replicas": True})
    lines = listing.op_lines(graph)
    # Only the optimizer's update and `init` (it initialises the new variables too) differ
    # from the course's graph: every forward, cost and gradient op is the same.
    default = listing.op_lines(registry.build_in_new_graph(name).graph)
    changed = [line.split("\t")[0] for line in default if line not in set(lines)]
    assert changed and all(n == "init" or n.startswith("Adam") for n in changed), changed


# `cadl-graph train --steps_per_run=K` trains in the model's graph plus a K-steps loop.
@pytest.mark.parametrize("name", registry.NAMES)
def test_steps_per_run_graph_matches_its_golden(name, project_golden):
    graph = loop.training_graph(session.TrainConfig(model=name, steps_per_run=10))
    project_golden.check(graph, listing.golden_path(name, "steps_per_run.ops").name,
                         title=f"{name}, the training graph with --steps_per_run > 1",
                         hparams={"steps_per_run": "any K > 1 (fed)"})
    # It begins with the course's graph, op for op; the loop comes after the Saver.
    lines = listing.op_lines(graph)
    default = listing.op_lines(registry.build_in_new_graph(name).graph)
    assert lines[:len(default)] == default
    added = [line.split("\t")[0] for line in lines[len(default):]]
    assert all(n.startswith(("global_step", "save/", "init", f"{step_loop.SCOPE}/"))
               for n in added), sorted({n.split("/")[0] for n in added})


def test_golden_files_name_only_registry_models_and_variants():
    expected = {listing.golden_path(name, f"{variant}.ops" if variant else "ops").name
                for name, variant in CASES}
    expected |= {listing.golden_path(name, "sync_replicas.ops").name for name in SYNC_MODELS}
    expected |= {listing.golden_path(name, "steps_per_run.ops").name for name in registry.NAMES}
    expected |= {listing.golden_path(name, kind).name for name in registry.NAMES
                 for kind in ("frozen.ops", "saved_model.ops")}
    # Exports whose random draws are replaced by their centre (export_graph --deterministic).
    expected |= {listing.golden_path(name, "deterministic.frozen.ops").name
                 for name in ("vae", "conv_vae", "denoising_autoencoder")}
    stale = sorted(p.name for p in listing.GOLDEN_DIR.glob("*.txt") if p.name not in expected)
    assert stale == [], f"goldens without a registry model or variant: {stale}"


def test_missing_golden_fails_with_the_regenerate_command(tmp_path):
    message = listing.compare(tmp_path / "nope.ops.txt", ["a\tNoOp\t-\t-"])
    assert "is missing" in message and listing.REGENERATE in message


def test_a_format_1_golden_says_to_regenerate(tmp_path):
    path = tmp_path / "old.ops.txt"
    path.write_text("# cadl_graph golden op listing, format 1\nx\tPlaceholder\t[?,784]\n")
    message = listing.compare(path, ["x\tPlaceholder\t[?,784]\t-\tdtype=float32"])
    assert "is format 1; this cadl_graph writes format 2" in message
    assert listing.REGENERATE in message
    assert listing.parse(path.read_text()) == ["x\tPlaceholder\t[?,784]"]  # still readable


def test_a_large_string_constant_is_hashed_by_its_strings_not_their_addresses():
    # A Saver's list of 20 variable names is such a constant: its line must not change
    # between two builds of one graph.
    names = [f"layer{i}/W".encode() for i in range(listing.SMALL_VALUE + 4)]
    lines = []
    for _ in range(2):
        with tf.Graph().as_default():
            lines.append(listing.op_line(tf.constant(names, name="names").op))
    digest = hashlib.sha256(b"".join(len(n).to_bytes(8, "little") + n for n in names))
    assert lines[0] == lines[1]
    assert f"value=<string[{len(names)}] sha256:{digest.hexdigest()[:12]}>" in lines[0]


def test_op_line_format():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 28, 28, 1], name="x")
        flag = tf.placeholder(tf.bool, name="flag")
        no_op = tf.no_op(name="nothing")
        pair = tf.nn.moments(x, [0, 1, 2], name="m")
        big = tf.constant(np.arange(20, dtype=np.float32), name="big")
        noise = tf.random_normal([2], seed=7, name="noise")
    assert listing.op_line(x.op) == "x\tPlaceholder\t[?,28,28,1]\t-\tdtype=float32\tshape=[?,28,28,1]"
    assert listing.op_line(flag.op) == "flag\tPlaceholder\t<unknown>\t-\tdtype=bool\tshape=<unknown>"
    assert listing.op_line(no_op) == "nothing\tNoOp\t-\t-"
    # moments() keeps dims, then squeezes: the mean it returns is m/Squeeze of m/mean.
    assert listing.op_line(pair[0].op).split("\t")[:4] == ["m/Squeeze", "Squeeze", "[1]",
                                                          "m/mean"]
    digest = hashlib.sha256(np.arange(20, dtype=np.float32).tobytes()).hexdigest()[:12]
    assert listing.op_line(big.op).endswith(f"value=<float32[20] sha256:{digest}>")
    assert listing.op_line(big.op, opaque=True).endswith("value=<float32[20]>")
    # Seeds are left out: a training run's graph-level seed changes them.
    assert "seed" not in listing.op_line(noise.op.inputs[0].op.inputs[0].op)


def _lines(build):
    with tf.Graph().as_default() as graph:
        build()
    return listing.op_lines(graph)


def _renamed(graph_def, old, new):
    """A copy of `graph_def` with scope `old/` renamed `new/`, names and inputs alike."""
    out = tf.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        node.name = node.name.replace(f"{old}/", f"{new}/")
        inputs = [i.replace(f"{old}/", f"{new}/") for i in node.input]
        del node.input[:]
        node.input.extend(inputs)
        for key in [k for k in node.attr if k == "_class"]:
            del node.attr[key]
    return out


def _swapped(graph_def, a, b):
    """A copy of `graph_def` with independent nodes `a` and `b` in each other's place."""
    nodes = list(graph_def.node)
    i, j = ([n.name for n in nodes].index(name) for name in (a, b))
    nodes[i], nodes[j] = nodes[j], nodes[i]
    out = tf.GraphDef()
    out.node.extend(nodes)
    return out


def _imported(graph_def):
    return listing.graph_def_lines(graph_def)


def _conv(data_format):
    x = tf.placeholder(tf.float32, [None, 8, 8, 8], name="x")
    tf.nn.conv2d(x, tf.zeros([3, 3, 8, 8]), [1, 1, 1, 1], "SAME", data_format=data_format)


def _registry_lines(name, **overrides):
    return listing.op_lines(registry.build_in_new_graph(name, **overrides).graph)


def _patched(monkeypatch, target, attribute, value, name):
    """(golden lines of `name`, the same after setting `target.attribute` to `value`)."""
    before = _registry_lines(name)
    monkeypatch.setattr(target, attribute, value)
    return before, _registry_lines(name)


def _edited(name, edit):
    """(golden lines of `name`'s GraphDef, the same after `edit(graph_def)`)."""
    graph_def = registry.build_in_new_graph(name).graph.as_graph_def()
    return _imported(graph_def), _imported(edit(graph_def))


# Each change: a function (monkeypatch) -> (lines before, lines after), and what the message
# must say.
CHANGES = {
    "cross entropy epsilon 1e-12 -> 1e-10": (
        lambda mp: _patched(mp, classifiers, "LOG_EPSILON", 1e-10, "linear_classifier"),
        "~ add/y: value 1e-12 -> 1e-10"),
    "batch norm decay 0.99 -> 0.9": (
        lambda mp: _patched(mp, vae, "batch_norm", functools.partial(batch_norm, decay=0.9),
                            "vae"),
        "~ encoder/0/bn0/ExponentialMovingAverage/decay: value 0.99 -> 0.9"),
    "Adam learning rate 0.001 -> 0.01": (
        lambda mp: (_registry_lines("linear_classifier"),
                    _registry_lines("linear_classifier", learning_rate=0.01)),
        "~ Adam/learning_rate: value 0.001 -> 0.01"),
    "initializer stddev 1.0 -> 0.1": (
        lambda mp: (_registry_lines("conv_classifier"),
                    _registry_lines("conv_classifier", init_stddev=0.1)),
        "~ W/Initializer/random_normal/stddev: value 1.0 -> 0.1"),
    "conv data_format NHWC -> NCHW": (
        lambda mp: (_lines(lambda: _conv("NHWC")), _lines(lambda: _conv("NCHW"))),
        '~ Conv2D: data_format "NHWC" -> "NCHW"'),
    "scope layer1 -> layer2": (
        lambda mp: _edited("linear_classifier", lambda g: _renamed(g, "layer1", "layer2")),
        "+ layer2/W (VariableV2)"),
    "op order": (
        lambda mp: _edited("linear_classifier",
                           lambda g: _swapped(g, "Adam/beta1", "Adam/beta2")),
        "order: 1 op(s) now follow an op they used to precede: Adam/beta1 (now after "
        "Adam/beta2)"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_each_kind_of_change_fails_with_a_message_that_names_it(change, tmp_path,
                                                                monkeypatch):
    make, expected = CHANGES[change]
    before, after = make(monkeypatch)
    path = tmp_path / "g.ops.txt"
    listing.write(path, listing.render("case", {}, before))
    assert listing.compare(path, before) is None
    message = listing.compare(path, after)
    assert message is not None, change
    assert expected in message, message
    assert listing.REGENERATE in message


def test_a_diff_groups_changes_by_scope():
    old = ["a/x\tConst\t[]\t-\tvalue=1", "a/y\tConst\t[]\t-\tvalue=2",
           "b/z\tIdentity\t[]\ta/x\tT=float32"]
    new = ["a/x\tConst\t[]\t-\tvalue=3", "b/z\tIdentity\t[]\ta/x\tT=float32",
           "b/w\tNoOp\t-\t-"]
    assert listing.diff(old, new) == [
        "  a: 1 removed, 1 changed", "    ~ a/x: value 1 -> 3", "    - a/y (Const)",
        "  b: 1 added", "    + b/w (NoOp)"]
