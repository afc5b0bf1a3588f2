"""A graph compares equal to its golden however it reached the tool: a live tf.Graph, a
GraphDef, a binary .pb, a text .pbtxt or a Saver's .meta."""

import pytest

from cadl_graph import graphfile
from cadl_graph.compat import tf
from cadl_graph.golden import listing
from cadl_graph.graphs import registry

CASES = [(name, None) for name in registry.NAMES] + [
    (name, variant) for name in registry.NAMES for variant in registry.variants(name)]


def _forms(graph, folder):
    """{form: golden lines} of one graph in every form a user may hand to the tool."""
    graph_def = graph.as_graph_def()
    tf.io.write_graph(graph_def, str(folder), "graph.pb", as_text=False)
    tf.io.write_graph(graph_def, str(folder), "graph.pbtxt", as_text=True)
    with graph.as_default():
        tf.train.export_meta_graph(filename=str(folder / "graph.meta"))
    return {
        "tf.Graph": listing.op_lines(graph),
        "GraphDef": listing.graph_def_lines(graph_def),
        ".pb": listing.graph_def_lines(graphfile.load_graph_def(folder / "graph.pb")),
        ".pbtxt": listing.graph_def_lines(graphfile.load_graph_def(folder / "graph.pbtxt")),
        ".meta": listing.graph_def_lines(graphfile.load_graph_def(folder / "graph.meta",
                                                                  meta_graphs=True)),
    }


@pytest.mark.parametrize("name, variant", CASES)
def test_every_form_of_a_registry_graph_matches_its_golden(name, variant, tmp_path):
    model = registry.build_in_new_graph(name, **registry.variant_hparams(name, variant))
    golden = listing.golden_path(name, f"{variant}.ops" if variant else "ops")
    for form, lines in _forms(model.graph, tmp_path).items():
        assert listing.compare(golden, lines) is None, f"{form}: {listing.compare(golden, lines)}"


def test_control_inputs_are_written_sorted_after_the_data_inputs():
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, name="x")
        late, early = tf.no_op(name="z_late"), tf.no_op(name="a_early")
        with tf.control_dependencies([late, early]):  # creation order: late first
            y = tf.identity(x, name="y")
    assert list(y.op.node_def.input) == ["x", "^z_late", "^a_early"]
    assert listing.op_line(y.op).split("\t")[3] == "x,^a_early,^z_late"
    assert listing.op_lines(graph) == listing.graph_def_lines(graph.as_graph_def())
