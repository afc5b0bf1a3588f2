"""The run folder owns what a run is and how it is read back: run.json, the mean, the lock."""

import json
import os

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.training import rundir

RUN = dict(model="linear_classifier", hparams={"learning_rate": 0.001}, batch_size=50, seed=0,
           epochs=5, split=[0.8, 0.1, 0.1])


def _checkpoint(folder, name="linear_classifier", step=7):
    """A freshly initialised checkpoint of `name` in `folder`; returns its W values."""
    model = registry.build_in_new_graph(name)
    with model.graph.as_default(), tf.Session() as sess:
        sess.run(model.init_op)
        tf.train.Saver().save(sess, str(folder / rundir.CHECKPOINT_NAME), global_step=step)
        return {v.op.name: v.eval() for v in tf.global_variables()}


def test_claim_writes_run_json_and_refuses_another_run(tmp_path):
    rundir.claim(tmp_path, RUN)
    assert json.loads((tmp_path / rundir.RUN_FILE).read_text()) == RUN
    rundir.claim(tmp_path, {**RUN, "epochs": 10})  # how long to train is not who it is
    with pytest.raises(rundir.RunFolderError, match="seed: saved 0, now 1"):
        rundir.claim(tmp_path, {**RUN, "seed": 1})


def test_open_run_reads_the_run_and_restores_its_weights(tmp_path):
    values = _checkpoint(tmp_path)
    rundir.claim(tmp_path, RUN)
    saved = rundir.open_run(tmp_path)
    assert (saved.model, saved.seed, saved.mean_img) == ("linear_classifier", 0, None)
    assert saved.prefix.endswith("model.ckpt-7")
    with saved.restore() as (sess, feeder):
        W = feeder.model.graph.get_tensor_by_name("layer1/W:0")
        assert np.array_equal(sess.run(W), values["layer1/W"])


def test_open_run_without_run_json_needs_the_model_name(tmp_path):
    _checkpoint(tmp_path)
    with pytest.raises(rundir.RunFolderError, match="says which model it holds"):
        rundir.open_run(tmp_path)
    saved = rundir.open_run(tmp_path, model="linear_classifier")
    assert saved.hparams == registry.hparams("linear_classifier")


def test_open_run_refuses_another_model_and_a_missing_mean(tmp_path):
    _checkpoint(tmp_path)
    rundir.claim(tmp_path, RUN)
    with pytest.raises(rundir.RunFolderError, match="saved by a linear_classifier run"):
        rundir.open_run(tmp_path, model="conv_classifier")
    ae = tmp_path / "ae"
    ae.mkdir()
    _checkpoint(ae, "fc_autoencoder")
    with pytest.raises(rundir.RunFolderError, match="trained on x - mean_img"):
        rundir.open_run(ae, model="fc_autoencoder")
    rundir.claim(ae, {**RUN, "model": "fc_autoencoder"})
    with pytest.raises(rundir.RunFolderError, match="input_mean.npy is missing"):
        rundir.open_run(ae)
    rundir.save_mean(ae, np.full(784, 0.25, np.float32))
    assert rundir.open_run(ae).mean_img.tolist() == [0.25] * 784


def test_the_lock_refuses_a_second_holder_with_the_first_ones_pid(tmp_path):
    with rundir.lock(tmp_path):
        with pytest.raises(rundir.RunFolderError, match=f"PID {os.getpid()}"):
            with rundir.lock(tmp_path):
                pass
    with rundir.lock(tmp_path):  # released: free again
        pass


def test_leftovers_of_interrupted_writes_are_found_and_removed(tmp_path):
    leftovers = [tmp_path / ".history.json.tmp-abc", tmp_path / "model.ckpt-3.tempstate123",
                 tmp_path / "pictures" / ".x.png.tmp-1"]
    keep = tmp_path / "history.json"
    for path in (*leftovers, keep):
        path.parent.mkdir(exist_ok=True)
        path.write_text("x")
    assert sorted(rundir.clean_leftovers(tmp_path)) == sorted(leftovers)
    assert keep.exists() and not any(p.exists() for p in leftovers)


def test_a_history_that_is_not_a_list_is_refused(tmp_path):
    assert rundir.load_history(tmp_path) == []
    (tmp_path / rundir.HISTORY_FILE).write_text('{"epoch": 0}')
    with pytest.raises(rundir.RunFolderError, match="not a list of epoch records"):
        rundir.load_history(tmp_path)
