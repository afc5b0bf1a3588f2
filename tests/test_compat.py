from cadl_graph.compat import enable_graph_mode, tf


def test_graph_mode_is_on_and_idempotent():
    assert enable_graph_mode() is tf
    assert enable_graph_mode() is tf
    assert not tf.executing_eagerly()


def test_variables_are_ref_variables_as_in_the_lecture():
    with tf.Graph().as_default() as g:
        tf.get_variable("W", shape=[2, 3])
        ops = {op.name: op.type for op in g.get_operations()}
    assert ops["W"] == "VariableV2"
    assert "W/Assign" in ops and "W/read" in ops
