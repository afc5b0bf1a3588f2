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


def _import_in_subprocess(**env):
    import os
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-c", "import cadl_graph.compat"],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, **env}).stderr


def test_import_drops_tensorflows_start_up_notices_unless_asked():
    # oneDNN is on by default only on some CPUs (those with AVX-512): turned on here, TensorFlow
    # prints its notice on every machine.
    assert _import_in_subprocess(TF_ENABLE_ONEDNN_OPTS="1") == ""
    assert "oneDNN" in _import_in_subprocess(TF_ENABLE_ONEDNN_OPTS="1", CADL_GRAPH_TF_VERBOSE="1")


def test_another_tensorflow_version_is_named_with_what_it_affects():
    from cadl_graph import compat
    assert compat.version_note(compat.RECORDED_WITH) is None
    note = compat.version_note("2.20.0")
    assert "TensorFlow 2.20.0 here" in note and compat.RECORDED_WITH in note
    assert "shipped goldens" in note
