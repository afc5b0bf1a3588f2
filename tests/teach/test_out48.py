"""The lecture's own op listing, Out[48], against the registry's lecture_sequence graph."""

import re

import pytest

from cadl_graph.golden import listing
from cadl_graph.graphs import registry
from cadl_graph.teach import renames

OUT48 = renames.OUT48
FORWARD_TYPES = {"Placeholder", "Reshape", "Conv2D", "Relu", "Conv2DBackpropInput",
                 "SquaredDifference", "Mean", "MatMul", "BiasAdd", "Softmax", "AddV2", "Log",
                 "Mul", "Sum", "Neg", "ArgMax", "Equal", "Cast"}


@pytest.fixture(scope="module")
def lecture_names():
    return listing.parse(OUT48.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model():
    return registry.build_in_new_graph("lecture_sequence")


@pytest.fixture(scope="module")
def rows(lecture_names, model):
    return renames.explain(lecture_names, [op.name for op in model.graph.get_operations()])


def test_every_lecture_name_is_identical_or_explained(rows, lecture_names, capsys):
    line = renames.coverage_line(rows)
    with capsys.disabled():
        print("\n" + line)
    unexplained = [name for name, status, _, _ in rows if status == renames.UNEXPLAINED]
    assert unexplained == [], f"{line}\nunexplained: {unexplained}"
    assert len(rows) == len(lecture_names)  # one row per printed name


def _protected(graph):
    """Names the user can reach: variables and slots, init ops, forward ops, placeholders."""
    names = set()
    for op in graph.get_operations():
        top = op.name.split("/")[0]
        internal = (re.match(r"gradients(_\d+)?$", top) or "/Initializer/" in op.name
                    or top.startswith("Adam"))
        if op.type == "VariableV2" or (op.type in FORWARD_TYPES and not internal):
            names.add(op.name)
    return names | {"init", "init_1", "Adam", "Adam_1", "Placeholder_1"}


def test_user_reachable_names_are_identical(lecture_names, model):
    protected = _protected(model.graph)
    assert {"layer1/W", "layer1/W/Adam_1", "beta2_power_1", "decoder/layer/2/conv2d_transpose",
            "layer1/h", "Mean_2"} <= protected
    missing = sorted(protected - set(lecture_names))
    assert missing == [], f"user-reachable names not printed by the lecture: {missing}"
    assert model.graph.get_tensor_by_name("layer1/W:0").shape.as_list() == [784, 10]


def test_rules_only_rename_what_has_no_identical_name(rows, model):
    protected = _protected(model.graph)
    for name, status, rule, _ in rows:
        if status == renames.RENAMED:
            assert name not in protected, (name, rule)


def test_a_rule_cannot_explain_a_name_that_is_really_missing(lecture_names, model):
    ours = [op.name for op in model.graph.get_operations()
            if not op.name.startswith("decoder/layer/1/")]
    rows = renames.explain(lecture_names, ours)
    unexplained = {name for name, status, _, _ in rows if status == renames.UNEXPLAINED}
    assert "decoder/layer/1/pack" in unexplained
    assert "decoder/layer/1/conv2d_transpose" in unexplained
