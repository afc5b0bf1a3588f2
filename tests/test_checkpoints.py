"""Checkpoint look-up and restore errors name what was searched and what differs."""

import pytest

from cadl_graph import checkpoints, registry
from cadl_graph.compat import tf


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved linear_classifier checkpoint: (train_dir, prefix)."""
    train_dir = tmp_path_factory.mktemp("ckpt")
    model = registry.build_in_new_graph("linear_classifier")
    with model.graph.as_default(), tf.Session() as sess:
        sess.run(model.init_op)
        prefix = tf.train.Saver().save(sess, str(train_dir / "model.ckpt"), global_step=7)
    return train_dir, prefix


def test_resolve_accepts_a_folder_or_a_prefix(saved):
    train_dir, prefix = saved
    assert checkpoints.resolve(train_dir) == prefix
    assert checkpoints.resolve(prefix) == prefix
    assert checkpoints.all_checkpoints(train_dir) == [prefix]


def test_missing_checkpoints_name_what_was_searched(saved, tmp_path):
    with pytest.raises(checkpoints.CheckpointError, match=f"no checkpoint in folder {tmp_path}"):
        checkpoints.resolve(tmp_path)
    train_dir, _ = saved
    wrong = str(train_dir / "model.ckpt-8")
    with pytest.raises(checkpoints.CheckpointError) as err:
        checkpoints.resolve(wrong)
    assert f"{wrong}.index" in str(err.value) and "model.ckpt-7" in str(err.value)


def test_restore_lists_every_mismatched_variable(saved):
    _, prefix = saved
    model = registry.build_in_new_graph("conv_classifier")
    with model.graph.as_default(), tf.Session() as sess:
        variables = tf.global_variables()
        with pytest.raises(checkpoints.CheckpointError) as err:
            checkpoints.restore(sess, tf.train.Saver(), prefix, variables)
    message = str(err.value)
    assert "W [5, 5, 1, 32]: not in the checkpoint" in message
    assert "fc_2/W [128, 10]: not in the checkpoint" in message


def test_restore_reports_shape_differences(saved, tmp_path):
    _, prefix = saved
    with tf.Graph().as_default(), tf.Session() as sess:
        W = tf.get_variable("layer1/W", shape=[784, 12])
        with pytest.raises(checkpoints.CheckpointError,
                           match=r"layer1/W: graph \[784, 12\], checkpoint \[784, 10\]"):
            checkpoints.restore(sess, tf.train.Saver([W]), prefix, [W])
