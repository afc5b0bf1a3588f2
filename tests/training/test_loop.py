"""Training: cost goes down, checkpoints resume and survive SIGKILL, pictures, TensorBoard."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from cadl_graph import graphfile
from cadl_graph.compat import tf
from cadl_graph.data.datasets import Dataset
from cadl_graph.golden import listing
from cadl_graph.graphs import registry
from cadl_graph.training.loop import train
from cadl_graph.training.rundir import RunFolderError
from cadl_graph.training.session import TrainConfig, load_dataset

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train.py"


@pytest.fixture(scope="module")
def ds():
    return load_dataset("linear_classifier", seed=0)


@pytest.fixture(scope="module")
def small_ds(ds):
    """600 real images split 500/50/50: an epoch is a few steps, so epoch-end code runs."""
    labels = ds.Y[:600].argmax(axis=1)
    return Dataset(ds.X[:600], labels, split=[5 / 6, 1 / 12, 1 / 12], one_hot=True,
                   n_classes=10, seed=0)


def _quiet(*args):
    return None


@pytest.mark.parametrize("name", registry.NAMES)
def test_training_improves_the_held_out_metric(name, ds, tmp_path):
    config = TrainConfig(model=name, train_dir=str(tmp_path), max_steps=0, pictures=False)
    before = train(config, ds=ds, out=_quiet)
    steps = 60 if name != "conv_vae" else 30
    after = train(TrainConfig(model=name, train_dir=str(tmp_path), max_steps=steps,
                              pictures=False), ds=ds, out=_quiet)
    assert before["steps"] == 0 and after["steps"] == steps
    if after["test_metric"] == "test_accuracy":
        assert after["test"] > before["test"] + 0.1, (before["test"], after["test"])
    else:
        assert after["test"] < before["test"], (before["test"], after["test"])


def test_resume_continues_from_the_saved_global_step(small_ds, tmp_path):
    lines = []
    first = train(TrainConfig(model="fc_autoencoder", train_dir=str(tmp_path), max_steps=7,
                              save_every_steps=3, pictures=False), ds=small_ds, out=_quiet)
    assert first["steps"] == 7
    meta = (tmp_path / graphfile.RUN_META_GRAPH).stat()  # written at the first save, once
    second = train(TrainConfig(model="fc_autoencoder", train_dir=str(tmp_path), epochs=3,
                               pictures=False), ds=small_ds, out=lines.append)
    per_epoch = math.ceil(small_ds.train.num_examples /
                          registry.get("fc_autoencoder").batch_size)
    assert 7 > per_epoch  # the first run stopped inside the second epoch
    assert lines[0].startswith("resuming fc_autoencoder from")
    assert f"at step 7/{3 * per_epoch}" in lines[0]
    assert second["steps"] == 3 * per_epoch
    # Epoch 0 ended before the stop point and is kept from history.json; epochs 1 and 2 were
    # finished after the resume.
    assert [(e["epoch"], e["step"]) for e in second["epochs"]] == [
        (epoch, (epoch + 1) * per_epoch) for epoch in range(3)]
    kept = (tmp_path / graphfile.RUN_META_GRAPH).stat()
    assert (kept.st_ino, kept.st_mtime_ns) == (meta.st_ino, meta.st_mtime_ns)
    assert not list(tmp_path.glob("model.ckpt-*.meta"))  # no meta graph per checkpoint
    third = []  # a target below the saved step: said, nothing trained
    train(TrainConfig(model="fc_autoencoder", train_dir=str(tmp_path), max_steps=5,
                      pictures=False), ds=small_ds, out=third.append)
    assert f"already at step {3 * per_epoch}, at or past this run's last step 5" in third[0]


def test_a_train_dir_of_another_run_is_refused(small_ds, tmp_path):
    train(TrainConfig(model="linear_classifier", train_dir=str(tmp_path), max_steps=2,
                      pictures=False), ds=small_ds, out=_quiet)
    with pytest.raises(RunFolderError, match="model: saved 'linear_classifier', now 'fc_autoenc"):
        train(TrainConfig(model="fc_autoencoder", train_dir=str(tmp_path), max_steps=2,
                          pictures=False), ds=small_ds, out=_quiet)


def test_hparam_overrides_reach_the_graph_and_the_run_file(small_ds, tmp_path):
    train(TrainConfig(model="conv_classifier", train_dir=str(tmp_path), max_steps=1,
                      pictures=False, hparams={"init_stddev": 0.1}), ds=small_ds, out=_quiet)
    run = (tmp_path / "run.json").read_text()
    assert '"init_stddev": 0.1' in run
    model = registry.build_in_new_graph("conv_classifier", init_stddev=0.1)
    stddev = model.graph.get_tensor_by_name("W/Initializer/random_normal/stddev:0")
    with tf.Session(graph=model.graph) as sess:
        assert sess.run(stddev) == pytest.approx(0.1)
    # The same ops; the golden sees the two constants that changed (both kernels' stddev).
    assert listing.diff(listing.op_lines(registry.build_in_new_graph("conv_classifier").graph),
                       listing.op_lines(model.graph)) == [
        f"  {w}/Initializer/random_normal: 1 changed" if i == 0 else
        f"    ~ {w}/Initializer/random_normal/stddev: value 1.0 -> 0.1"
        for w in ("W", "W2") for i in range(2)]


def _size(path):
    with Image.open(path) as image:
        return image.size, getattr(image, "n_frames", 1)


@pytest.mark.parametrize("name, expected", [
    # small_ds has 50 test images: reconstructions are an 8 x 8 grid of 29-pixel cells.
    ("conv_autoencoder", {"reconstruction": ((233, 233), 1),
                          "reconstruction_gif": ((233, 233), 2)}),
    ("linear_classifier", {"layer1_W": ((4 * 291, 4 * 30), 1)}),
    ("conv_classifier", {"W_1": ((4 * 37, 4 * 37), 1), "W_2": ((2 * 277, 2 * 277), 1)}),
    ("vae", {"manifold": ((582, 582), 1), "latent_scatter": ((600, 500), 1),
             "reconstruction": ((233, 233), 1)}),
    ("denoising_autoencoder", {"denoising": ((2 * 291, 2 * 291), 1)}),
])
def test_pictures_exist_with_the_expected_sizes(name, expected, small_ds, tmp_path):
    result = train(TrainConfig(model=name, train_dir=str(tmp_path), epochs=2,
                               save_every_steps=1000), ds=small_ds, out=_quiet)
    for key, (size, frames) in expected.items():
        assert _size(result["pictures"][key]) == (size, frames), key


def test_tensorboard_gets_the_graph_and_scalars_without_touching_the_model(small_ds,
                                                                           tmp_path):
    logdir = tmp_path / "tb"
    train(TrainConfig(model="linear_classifier", train_dir=str(tmp_path / "run"), epochs=1,
                      logdir=str(logdir), pictures=False), ds=small_ds, out=_quiet)
    graph_def, tags = None, set()
    for event_file in logdir.glob("events.out.tfevents.*"):
        for event in tf.train.summary_iterator(str(event_file)):
            if event.graph_def:
                graph_def = tf.GraphDef.FromString(event.graph_def)
            tags |= {v.tag for v in event.summary.value}
    assert "epoch/valid_accuracy" in tags
    golden_names = [line.split("\t")[0] for line in
                    listing.parse(listing.golden_path("linear_classifier").read_text())]
    trained_names = [node.name for node in graph_def.node]
    # The model's ops come first, unchanged; training adds only global_step and the Saver.
    assert trained_names[:len(golden_names)] == golden_names
    assert not any("summary" in n.lower() for n in trained_names)


def _events(logdir):
    return [event for event_file in sorted(logdir.glob("events.out.tfevents.*"))
            for event in tf.train.summary_iterator(str(event_file))]


def test_tensorboard_gets_one_graph_however_often_a_run_resumes(small_ds, tmp_path):
    logdir, lines = tmp_path / "tb", []
    per_epoch = math.ceil(small_ds.train.num_examples /
                          registry.get("linear_classifier").batch_size)
    for steps in (2, 4, per_epoch + 1):  # two runs shorter than an epoch, then past one
        train(TrainConfig(model="linear_classifier", train_dir=str(tmp_path / "run"),
                          max_steps=steps, logdir=str(logdir), pictures=False),
              ds=small_ds, out=lines.append)
        if steps == 2:
            assert any(line.startswith("TensorBoard: no epoch/ scalars, since no epoch ended "
                                       f"(one is {per_epoch} steps, the run stopped at step 2)")
                       for line in lines), lines
    events = _events(logdir)
    assert len(list(logdir.glob("events.out.tfevents.*"))) >= 2  # one file per run
    assert sum(bool(event.graph_def) for event in events) == 1
    assert sum("already holds this run's graph" in line for line in lines) == 2
    starts = [e.step for e in events if e.session_log.status == tf.SessionLog.START]
    assert starts == [2, 4]  # each resume marks where it restarted
    tags = {v.tag for e in events for v in e.summary.value}
    assert {"test/accuracy", "epoch/valid_accuracy"} <= tags


def _run(*args, **kwargs):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, **kwargs)


@pytest.mark.parametrize("args, message", [
    (["--model=resnet"], "fc_autoencoder"),
    (["--model=vae", "--epochs=-1"], "epochs"),
    (["--model=vae", "surplus"], "unexpected arguments: surplus"),
    (["--model=vae", "--hparam=oops"], "--hparam takes NAME=VALUE"),
    ([], "--model"),
])
def test_bad_flags_are_usage_errors(args, message):
    done = _run(*args)
    assert done.returncode != 0 and message in done.stderr


def test_script_trains_prints_epochs_and_refuses_a_foreign_train_dir(ds, tmp_path):
    done = _run("--model=linear_classifier", "--epochs=1", f"--train_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    steps = math.ceil(ds.train.num_examples / registry.get("linear_classifier").batch_size)
    record = json.loads((tmp_path / "history.json").read_text())[0]
    assert record["valid_accuracy"] > 0.8  # one epoch of the lecture's recipe learns
    assert f"epoch 0 (step {steps}): valid accuracy {record['valid_accuracy']:.6f}" \
        in done.stdout
    assert "linear_classifier: test accuracy" in done.stdout
    foreign = _run("--model=fc_autoencoder", "--max_steps=1", f"--train_dir={tmp_path}")
    assert foreign.returncode == 1
    assert "holds a run that differs" in foreign.stderr and "Traceback" not in foreign.stderr


def test_seed_spread_trains_each_seed_and_reports_their_spread(tmp_path):
    script = SCRIPT.parent / "seed_spread.py"
    done = subprocess.run([sys.executable, str(script), "--model=linear_classifier",
                           "--seeds=0,1,2", "--epochs=1", f"--out_dir={tmp_path}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    values = {}
    for line in done.stdout.splitlines():
        if line.startswith("  seed "):
            seed, rest = line[len("  seed "):].split(": ", 1)
            values[int(seed)] = float(rest.split()[0])
    assert sorted(values) == [0, 1, 2]
    assert all((tmp_path / f"seed{s}" / "run.json").is_file() for s in values)
    assert len(set(values.values())) > 1, "each seed reshuffles and reinitialises"
    ordered = sorted(values.values())
    assert (f"  min {ordered[0]:.4f}, median {ordered[1]:.4f}, max {ordered[2]:.4f}"
            in done.stdout)
