"""The run folder's promises, kept under SIGKILL, moves, copies, damage and a second trainer."""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.data.datasets import Dataset
from cadl_graph.training import checkpoints, rundir
from cadl_graph.training.loop import train
from cadl_graph.training.session import TrainConfig, load_dataset

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train.py"
# A short fc_autoencoder run that saves every other step, so kills often land mid-save.
KILL_ARGS = ["--model=fc_autoencoder", "--max_steps=90", "--save_every_steps=2",
             "--nopictures"]


def _weights(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _newest_step(folder):
    found = checkpoints.on_disk(folder)
    return found[-1][0] if found else 0


def _kill_when(folder, reached):
    """Starts a run in `folder` and SIGKILLs it once `reached(folder)` holds; returns whether
    the kill fell inside a checkpoint write (a *.tempstate* file was on disk)."""
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *KILL_ARGS, f"--train_dir={folder}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not reached(folder):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return any(folder.glob("*.tempstate*"))


def test_runs_killed_at_any_moment_end_with_the_weights_of_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = subprocess.run([sys.executable, str(SCRIPT), *KILL_ARGS, f"--train_dir={whole}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    mid_save = 0
    for at_step in (10, 30, 50, 70):  # each kill after the run got past this step
        mid_save += _kill_when(killed, lambda f, s=at_step: _newest_step(f) >= s)
    # One more, as soon as a checkpoint write is under way.
    mid_save += _kill_when(killed, lambda f: any(f.glob("*.tempstate*")))
    done = subprocess.run([sys.executable, str(SCRIPT), *KILL_ARGS, f"--train_dir={killed}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "resuming fc_autoencoder from" in done.stdout
    expected = _weights(checkpoints.latest(whole))
    got = _weights(checkpoints.latest(killed))
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    assert not list(killed.glob("*.tempstate*")), "leftovers of interrupted saves are removed"
    print(f"{mid_save} of 5 kills fell inside a checkpoint write")


@pytest.fixture(scope="module")
def small_ds():
    full = load_dataset("linear_classifier", seed=0)
    return Dataset(full.X[:600], full.Y[:600].argmax(axis=1), split=[5 / 6, 1 / 12, 1 / 12],
                   one_hot=True, n_classes=10, seed=0)


def _config(folder, **kwargs):
    return TrainConfig(model="linear_classifier", train_dir=str(folder), pictures=False,
                       **{"max_steps": 7, "save_every_steps": 3, **kwargs})


def _quiet(*args):
    return None


@pytest.fixture
def trained(small_ds, tmp_path):
    """A run folder stopped at step 7 with checkpoints at steps 3, 6 and 7."""
    folder = tmp_path / "run"
    train(_config(folder), ds=small_ds, out=_quiet)
    assert [s for s, _ in checkpoints.on_disk(folder)] == [3, 6, 7]
    return folder


def _resume(folder, small_ds, **kwargs):
    lines = []
    result = train(_config(folder, max_steps=10, **kwargs), ds=small_ds, out=lines.append)
    return lines[0] if lines else "", result


@pytest.mark.parametrize("how", ["move", "copy"])
def test_a_moved_or_copied_run_folder_resumes_from_its_own_checkpoints(trained, small_ds,
                                                                        how):
    other = trained.parent / how
    (shutil.move if how == "move" else shutil.copytree)(trained, other)
    line, result = _resume(other, small_ds)
    assert line.startswith(f"resuming linear_classifier from {other}/model.ckpt-7 at step 7")
    assert result["steps"] == 10
    if how == "copy":  # the original is untouched
        assert checkpoints.latest(trained).endswith("model.ckpt-7")


@pytest.mark.parametrize("damage, resumed_at, warning", [
    ("garbage state file", 7, "state file"),
    ("deleted latest", 6, "names model.ckpt-7 as the latest, but the newest"),
    ("empty latest index", 6, "checkpoint model.ckpt-7 ("),
    ("truncated latest data", 6, "checkpoint model.ckpt-7 ("),
])
def test_a_damaged_run_folder_resumes_from_the_newest_intact_checkpoint(
        trained, small_ds, caplog, damage, resumed_at, warning):
    if damage == "garbage state file":
        (trained / "checkpoint").write_bytes(b"\x00\xffnot a state file")
    elif damage == "deleted latest":
        for path in trained.glob("model.ckpt-7.*"):
            path.unlink()
    elif damage == "empty latest index":
        (trained / "model.ckpt-7.index").write_bytes(b"")
    else:
        data = next(trained.glob("model.ckpt-7.data-*"))
        data.write_bytes(data.read_bytes()[:-50])
    with caplog.at_level(logging.WARNING):
        line, result = _resume(trained, small_ds)
    assert f"model.ckpt-{resumed_at} at step {resumed_at}/" in line
    assert warning in caplog.text
    assert result["steps"] == 10


def test_a_run_whose_checkpoints_are_all_gone_is_refused_not_restarted(trained, small_ds):
    for path in trained.glob("model.ckpt-*"):
        path.unlink()
    with pytest.raises(checkpoints.CheckpointError, match="but no checkpoint files are in"):
        _resume(trained, small_ds)


def test_a_truncated_run_json_names_the_file(trained, small_ds):
    path = trained / "run.json"
    path.write_text(path.read_text()[:20])
    with pytest.raises(rundir.RunFolderError, match=f"{path} is not valid JSON"):
        _resume(trained, small_ds)


def test_leftovers_of_interrupted_writes_are_removed_and_said(trained, small_ds, caplog):
    leftovers = [trained / ".history.json.tmp-abc", trained / ".input_mean.npy.tmp-x.npy",
                 trained / "model.ckpt-9.index.tempstate123",
                 trained / "checkpoint.tmp0123abcd", trained / "pictures" / ".a.png.tmp-1.png"]
    for path in leftovers:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"partial")
    with caplog.at_level(logging.WARNING):
        _resume(trained, small_ds)
    for path in leftovers:
        assert not path.exists() and f"removed {path}" in caplog.text


def test_a_second_trainer_on_the_same_folder_is_refused_with_the_holders_pid(tmp_path):
    folder = tmp_path / "busy"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--model=conv_classifier",
                             "--epochs=1", "--nopictures", f"--train_dir={folder}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        lock = folder / rundir.LOCK_FILE
        while time.time() < deadline and not (lock.is_file() and lock.read_text().strip()):
            time.sleep(0.05)
        second = subprocess.run([sys.executable, str(SCRIPT), "--model=conv_classifier",
                                 "--epochs=1", f"--train_dir={folder}"],
                                capture_output=True, text=True, check=False)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if " is in use by " in line]
    assert len(errors) == 1 and f"(PID {proc.pid})" in errors[0], second.stderr
    assert "Traceback" not in second.stderr
    # The kernel dropped the dead holder's lock: the folder can be taken again.
    with rundir.lock(folder):
        pass


def test_the_state_file_holds_relative_paths(trained):
    state = (trained / "checkpoint").read_text()
    assert str(trained) not in state and 'model_checkpoint_path: "model.ckpt-7"' in state


def test_run_json_records_what_the_run_is(trained):
    run = json.loads((trained / "run.json").read_text())
    assert run["model"] == "linear_classifier" and run["seed"] == 0
    assert set(rundir.IDENTITY) <= set(run)
    assert os.stat(trained / "run.json").st_size > 0


@pytest.mark.parametrize("model, args, what", [
    # The cost is NaN at its first check (step 50): nothing was ever saved.
    ("linear_classifier", ["--learning_rate=1e37", "--save_every_steps=100"],
     "the training cost is nan. Nothing non-finite was saved; no checkpoint was saved"),
    # Saving every step: step 1's weights are finite and kept, step 2's are not saved.
    ("linear_classifier", ["--learning_rate=1e37", "--save_every_steps=1"],
     "layer1/W holds 7840 non-finite values. Nothing non-finite was saved; the newest "
     "checkpoint, model.ckpt-1, is finite and kept"),
    ("fc_autoencoder", ["--learning_rate=1e4", "--save_every_steps=100"], "is nan"),
])
def test_divergence_stops_the_run_in_one_line_and_saves_nothing_non_finite(model, args, what,
                                                                          tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), f"--model={model}", "--max_steps=600",
                           f"--train_dir={tmp_path}", "--nopictures", *args],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "training diverged by step" in done.stderr and what in done.stderr, done.stderr
    assert "Try a smaller learning rate" in done.stderr
    for _, prefix in checkpoints.on_disk(tmp_path):
        assert all(np.all(np.isfinite(w)) for w in _weights(prefix).values()), prefix
    if (tmp_path / rundir.HISTORY_FILE).exists():
        json.loads((tmp_path / rundir.HISTORY_FILE).read_text())  # strict JSON


def test_an_export_refuses_non_finite_weights(tmp_path):
    from cadl_graph.export import freeze
    from cadl_graph.graphs import registry
    with tf.Graph().as_default():
        model = registry.build("linear_classifier")
        w = tf.get_default_graph().get_tensor_by_name("layer1/W:0")
        with tf.Session() as sess:
            sess.run(model.init_op)
            sess.run(tf.assign(w, tf.fill(w.shape, np.nan)))
            prefix = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    with pytest.raises(freeze.ExportError, match=r"not finite \(NaN or inf in layer1/W\)"):
        freeze.export(prefix, tmp_path / "nan.pb", model="linear_classifier")
    assert not (tmp_path / "nan.pb").exists()


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_save_the_step_reached_and_say_how_to_resume(signum, status,
                                                                         tmp_path):
    args = [sys.executable, str(SCRIPT), "--model=linear_classifier", "--max_steps=100000",
            f"--train_dir={tmp_path}", "--nopictures", "--save_every_steps=100000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # the first epoch's end, then a stop mid-epoch
    while not (tmp_path / rundir.HISTORY_FILE).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err[-3000:]
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "stopped at step" in x]
    step = int(line.split("stopped at step ")[1].split("/")[0])
    assert step >= 490 and f"by {signal.Signals(signum).name}, model.ckpt-{step} saved; run the " \
        "same command to resume" in line
    assert _newest_step(tmp_path) == step
    resumed = subprocess.run([*args[:3], "--max_steps=" + str(step + 5), *args[4:]],
                             capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"at step {step}/" in resumed.stdout


def test_a_binding_of_the_wrong_type_is_refused_by_name(tmp_path):
    from cadl_graph.export import freeze
    from cadl_graph.graphs import registry
    with tf.Graph().as_default():
        model = registry.build("vae")
        with tf.Session() as sess:
            sess.run(model.init_op)
            prefix = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    with pytest.raises(freeze.ExportError, match=r'cannot bind phase_train="yes": phase_train '
                                                 r"takes bool"):
        freeze.build_export(prefix, "vae", bind={"phase_train": "yes"})
