"""Checkpoints are found by the files on disk, checked whole, and every fallback says why."""

import logging
import shutil

import pytest

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A folder with linear_classifier checkpoints at steps 7, 8 and 9: (folder, prefixes)."""
    folder = tmp_path_factory.mktemp("ckpt")
    model = registry.build_in_new_graph("linear_classifier")
    with model.graph.as_default(), tf.Session() as sess:
        sess.run(model.init_op)
        saver = tf.train.Saver()  # absolute paths in the state file, as TensorFlow's default
        prefixes = [saver.save(sess, str(folder / "model.ckpt"), global_step=step)
                    for step in (7, 8, 9)]
    return folder, prefixes


@pytest.fixture
def run_copy(saved, tmp_path):
    """A fresh copy of the saved folder (state file still naming the original's paths)."""
    folder = tmp_path / "copy"
    shutil.copytree(saved[0], folder)
    return folder


def test_resolve_accepts_a_folder_or_a_prefix(saved):
    folder, prefixes = saved
    assert checkpoints.resolve(folder) == prefixes[-1]
    assert checkpoints.resolve(prefixes[0]) == prefixes[0]
    assert checkpoints.on_disk(folder) == [(7, prefixes[0]), (8, prefixes[1]), (9, prefixes[2])]


def test_a_moved_or_copied_folder_uses_its_own_files(saved, run_copy, caplog):
    moved = run_copy.parent / "moved"
    run_copy.rename(moved)
    with caplog.at_level(logging.WARNING):
        assert checkpoints.latest(moved) == str(moved / "model.ckpt-9")
    assert caplog.records == []  # same file names: nothing to say
    # TensorFlow's own look-up follows the state file's absolute paths to the original.
    assert tf.train.latest_checkpoint(str(moved)) == saved[1][-1]


@pytest.mark.parametrize("state", [b"", b"garbage \x00\xff{", b"model_checkpoint_path: 3"])
def test_a_damaged_state_file_is_said_and_the_disk_decides(run_copy, caplog, state):
    (run_copy / "checkpoint").write_bytes(state)
    with caplog.at_level(logging.WARNING):
        assert checkpoints.latest(run_copy) == str(run_copy / "model.ckpt-9")
    if state:
        assert "state file" in caplog.text and "is damaged" in caplog.text


def test_a_deleted_latest_checkpoint_falls_back_with_a_warning(run_copy, caplog):
    for path in run_copy.glob("model.ckpt-9.*"):
        path.unlink()
    with caplog.at_level(logging.WARNING):
        assert checkpoints.latest(run_copy) == str(run_copy / "model.ckpt-8")
    assert "names model.ckpt-9 as the latest, but the newest checkpoint in the folder is " \
           "model.ckpt-8 (step 8); using that" in caplog.text


@pytest.mark.parametrize("damage, reason", [
    ("empty index", "too short"),
    ("truncated data", ""),
])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(run_copy, caplog, damage,
                                                                    reason):
    if damage == "empty index":
        (run_copy / "model.ckpt-9.index").write_bytes(b"")
    else:
        data = next(run_copy.glob("model.ckpt-9.data-*"))
        data.write_bytes(data.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        assert checkpoints.latest(run_copy) == str(run_copy / "model.ckpt-8")
    assert "checkpoint model.ckpt-9 (" in caplog.text and reason in caplog.text
    assert "using the newest intact one, model.ckpt-8 (step 8)" in caplog.text
    with pytest.raises(checkpoints.CheckpointError, match="model.ckpt-9 is damaged"):
        checkpoints.resolve(run_copy / "model.ckpt-9")


def test_nothing_usable_where_checkpoints_were_is_refused(run_copy):
    for path in run_copy.glob("model.ckpt-*.index"):
        path.write_bytes(b"")
    with pytest.raises(checkpoints.CheckpointError,
                       match="every checkpoint in .* is damaged: model.ckpt-9"):
        checkpoints.latest(run_copy)
    for path in run_copy.glob("model.ckpt-*"):
        path.unlink()
    with pytest.raises(checkpoints.CheckpointError,
                       match="lists model.ckpt-7, model.ckpt-8, model.ckpt-9, but no checkpoint"):
        checkpoints.latest(run_copy)


def test_a_folder_that_never_had_checkpoints_has_none(tmp_path):
    assert checkpoints.latest(tmp_path) is None


def test_missing_checkpoints_name_what_was_searched(saved, tmp_path):
    with pytest.raises(checkpoints.CheckpointError, match=f"no checkpoint in folder {tmp_path}"):
        checkpoints.resolve(tmp_path)
    folder, _ = saved
    wrong = str(folder / "model.ckpt-6")
    with pytest.raises(checkpoints.CheckpointError) as err:
        checkpoints.resolve(wrong)
    assert f"{wrong}.index" in str(err.value) and "model.ckpt-7" in str(err.value)


def test_restore_lists_every_mismatched_variable(saved):
    prefix = saved[1][0]
    model = registry.build_in_new_graph("conv_classifier")
    with model.graph.as_default(), tf.Session() as sess:
        variables = tf.global_variables()
        with pytest.raises(checkpoints.CheckpointError) as err:
            checkpoints.restore(sess, tf.train.Saver(), prefix, variables)
    message = str(err.value)
    assert "W [5, 5, 1, 32]: not in the checkpoint" in message
    assert "fc_2/W [128, 10]: not in the checkpoint" in message


def test_restore_reports_shape_differences(saved):
    prefix = saved[1][0]
    with tf.Graph().as_default(), tf.Session() as sess:
        W = tf.get_variable("layer1/W", shape=[784, 12])
        with pytest.raises(checkpoints.CheckpointError,
                           match=r"layer1/W: graph \[784, 12\], checkpoint \[784, 10\]"):
            checkpoints.restore(sess, tf.train.Saver([W]), prefix, [W])
