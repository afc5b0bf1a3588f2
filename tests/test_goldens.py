"""Every registry graph (and each variant) against its golden op listing."""

import pytest

from cadl_graph import golden, registry
from cadl_graph.compat import tf

# The course's graphs, then each named variant (the repaired batch norm) of the models it
# applies to, each in its own golden.
CASES = [(name, None) for name in registry.NAMES] + [
    (name, variant) for name in registry.NAMES for variant in registry.variants(name)]


@pytest.mark.parametrize("name, variant", CASES)
def test_graph_matches_golden(name, variant, update_goldens):
    overrides = registry.VARIANTS[variant] if variant else {}
    model = registry.build_in_new_graph(name, **overrides)
    lines = golden.op_lines(model.graph)
    path = golden.golden_path(name, f"{variant}.ops" if variant else "ops")
    if update_goldens:
        title = f"{name}, variant {variant}" if variant else name
        golden.write(path, golden.render(title, model.hparams, lines, tf.__version__))
        return
    message = golden.compare(path, lines)
    if message:
        pytest.fail(message, pytrace=False)


def test_golden_files_name_only_registry_models_and_variants():
    expected = {golden.golden_path(name, f"{variant}.ops" if variant else "ops").name
                for name, variant in CASES}
    expected |= {golden.golden_path(name, "frozen.ops").name for name in registry.NAMES}
    stale = sorted(p.name for p in golden.GOLDEN_DIR.glob("*.txt") if p.name not in expected)
    assert stale == [], f"goldens without a registry model or variant: {stale}"


def test_missing_golden_fails_with_the_regenerate_command(tmp_path):
    message = golden.compare(tmp_path / "nope.ops.txt", ["a\tNoOp\t-"])
    assert "is missing" in message and golden.REGENERATE in message


def test_mismatch_gives_a_unified_diff_and_the_regenerate_command(tmp_path):
    model = registry.build_in_new_graph("linear_classifier")
    lines = golden.op_lines(model.graph)
    path = tmp_path / "linear_classifier.ops.txt"
    path.write_text(golden.render("linear_classifier", {}, lines, tf.__version__))
    assert golden.compare(path, lines) is None
    renamed = [line.replace("layer1/", "layer2/") for line in lines]
    message = golden.compare(path, renamed)
    assert "--- " in message and "+++ built graph" in message
    assert "-layer1/W\tVariableV2\t[784,10]" in message
    assert "+layer2/W\tVariableV2\t[784,10]" in message
    assert golden.REGENERATE in message


def test_op_line_format():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 28, 28, 1], name="x")
        flag = tf.placeholder(tf.bool, name="flag")
        no_op = tf.no_op(name="nothing")
        pair = tf.nn.moments(x, [0, 1, 2], name="m")
    assert golden.op_line(x.op) == "x\tPlaceholder\t[?,28,28,1]"
    assert golden.op_line(flag.op) == "flag\tPlaceholder\t<unknown>"
    assert golden.op_line(no_op) == "nothing\tNoOp\t-"
    assert golden.op_line(pair[0].op).endswith("\t[1]")
