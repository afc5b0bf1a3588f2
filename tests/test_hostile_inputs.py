"""Bad input from the command line: one clear error line and exit 1, never a traceback.

Each case is run as a user runs it (the script in a fresh process). The expected text is part
of the one `E...` line absl logs (or of the usage error absl prints for a bad flag).
"""

import gzip
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cadl_graph.data import idx, sources
from cadl_graph.data.datasets import Dataset
from cadl_graph.export import freeze
from cadl_graph.training import rundir
from cadl_graph.training.loop import train
from cadl_graph.training.session import TrainConfig, load_dataset

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
_ERROR = re.compile(r"^E\d{4} ")


def _run(script, *args, env=None):
    return subprocess.run([sys.executable, str(SCRIPTS / script), *map(str, args)],
                          capture_output=True, text=True, check=False, env=env)


def _one_error(done):
    """The one error of a failed run: the text of its single logged `E...` line, or the
    usage error absl prints for a bad flag (which names the flag)."""
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if _ERROR.match(line)]
    if not lines:  # a usage error: absl prints it in place of the help text
        return done.stderr
    assert len(lines) == 1, done.stderr
    return lines[0].split("] ", 1)[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained linear_classifier folder and its export: (folder, pb)."""
    root = tmp_path_factory.mktemp("hostile")
    full = load_dataset("linear_classifier", seed=0)
    ds = Dataset(full.X[:300], full.Y[:300].argmax(axis=1), split=[0.8, 0.1, 0.1],
                 one_hot=True, n_classes=10, seed=0)
    train(TrainConfig(model="linear_classifier", train_dir=str(root / "run"), max_steps=2,
                      pictures=False), ds=ds, out=lambda *a: None)
    freeze.export(root / "run", root / "cc.pb")
    return root / "run", root / "cc.pb"


@pytest.mark.parametrize("hparam, message", [
    ('init_stddev="x"', "bad hyperparameters for conv_classifier:"),
    ("n_filters=-3", "bad hyperparameters for conv_autoencoder:"),
    ("n_filters=null", "bad hyperparameters for conv_autoencoder:"),
    ("n_filters=[1.5,16,16]", "bad hyperparameters for conv_autoencoder:"),
])
def test_hyperparameters_of_the_wrong_type_or_range(hparam, message, tmp_path):
    model = "conv_classifier" if "stddev" in hparam else "conv_autoencoder"
    done = _run("train.py", f"--model={model}", f"--hparam={hparam}", "--max_steps=1",
                f"--train_dir={tmp_path}")
    assert message in _one_error(done)
    name, value = hparam.split("=", 1)
    assert f"  {name}=" in done.stderr and "must be" in done.stderr
    assert not any(tmp_path.iterdir()), "nothing is written for a refused run"


def test_learning_rate_nan_is_refused_and_hparam_learning_rate_is_used(tmp_path):
    done = _run("train.py", "--model=linear_classifier", "--learning_rate=nan")
    assert "--learning_rate must be a finite number > 0" in _one_error(done)
    done = _run("train.py", "--model=linear_classifier", "--hparam=learning_rate=0.5",
                "--max_steps=1", "--nopictures", f"--train_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert '"learning_rate": 0.5' in (tmp_path / "run.json").read_text()
    done = _run("train.py", "--model=linear_classifier", "--hparam=learning_rate=0.5",
                "--learning_rate=0.1", f"--train_dir={tmp_path}")
    assert "disagree; give one" in _one_error(done)


def test_logdir_or_train_dir_naming_a_file(tmp_path):
    file = tmp_path / "a-file"
    file.write_text("x")
    done = _run("train.py", "--model=linear_classifier", f"--logdir={file}",
                f"--train_dir={tmp_path / 'run'}")
    assert f"--logdir {file} is a file; name a folder" in _one_error(done)
    done = _run("train.py", "--model=linear_classifier", f"--train_dir={file}")
    assert f"--train_dir {file} is a file; name a folder" in _one_error(done)


def test_a_truncated_run_json_names_the_file(run, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "run.json").write_text((run[0] / "run.json").read_text()[:30])
    done = _run("train.py", "--model=linear_classifier", f"--train_dir={folder}")
    assert f"{folder / 'run.json'} is not valid JSON" in _one_error(done)


def test_summarize_refuses_an_output_index_that_does_not_exist(run, tmp_path):
    _, pb = run
    images = tmp_path / "images"
    images.write_bytes(idx.encode_idx(np.zeros((2, 28, 28), np.uint8)))
    done = _run("summarize_graph.py", f"--graph={pb}", f"--images={images}", "--output=X:3")
    assert "node X has 1 output(s) (:0 to :0); 'X:3' is not one of them" in _one_error(done)


@pytest.mark.parametrize("array, message", [
    (None, "is not a readable .npy array"),
    (np.zeros((0, 784), np.float32), "holds no examples"),
    (np.array(3.0, np.float32), "holds no examples"),
    (np.zeros((2, 784), np.uint8), "holds uint8 values; the graph takes floats (uint8 pixels"),
    (np.array([{"a": 1}], dtype=object), "is not a readable .npy array"),
])
def test_summarize_refuses_npy_files_it_cannot_feed(run, tmp_path, array, message):
    path = tmp_path / "inputs.npy"
    if array is None:
        path.write_bytes(b"")
    else:
        np.save(path, array, allow_pickle=True)
    done = _run("summarize_graph.py", f"--graph={run[1]}", f"--images={path}")
    error = _one_error(done)
    assert str(path) in error and message in error


def test_export_refuses_an_output_that_is_a_folder(run, tmp_path):
    done = _run("export_graph.py", f"--checkpoint={run[0]}", f"--output={tmp_path}")
    assert f"--output {tmp_path} is a folder; name the .pb file" in _one_error(done)


def test_a_gzip_bomb_given_as_images_is_refused_at_once(run, tmp_path):
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(struct.pack(">IIII", 2051, 4_000_000_000, 28, 28) +
                                   b"\x00" * (1 << 20)))
    done = _run("summarize_graph.py", f"--graph={run[1]}", f"--images={bomb}")
    assert "gzip file holds at most" in _one_error(done)


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "mnist.tar"
    file.write_text("x")
    done = _run("fetch_mnist.py", f"--data_dir={file}")
    assert f"--data_dir {file} is a file" in _one_error(done)


def test_a_corrupt_file_in_data_dir_is_named_with_both_digests(mnist_paths, tmp_path):
    """The cache still serves the file, but the user's bad copy is not passed over in silence."""
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    for name, path in mnist_paths.items():
        (data_dir / name).write_bytes(path.read_bytes())
    bad = data_dir / sources.TRAIN_LABELS
    data = bytearray(bad.read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    cache = mnist_paths[sources.TRAIN_LABELS].parent
    done = _run("fetch_mnist.py", f"--data_dir={data_dir}",
                env={**__import__("os").environ, "CADL_GRAPH_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if str(bad) in line]
    assert len(warnings) == 1 and sources.SHA256[sources.TRAIN_LABELS] in warnings[0]
    assert "SHA-256 of the decompressed data is " in warnings[0]


def test_a_cache_file_that_fails_its_check_is_removed_and_said(mnist_paths, tmp_path, caplog):
    cache = tmp_path / "cache"
    cache.mkdir()
    for name, path in mnist_paths.items():
        (cache / name).write_bytes(path.read_bytes())
    (cache / sources.TEST_LABELS).write_bytes(b"garbage")
    (cache / f"{sources.TEST_IMAGES}.gz").write_bytes(b"\x1f\x8b garbage gz")
    (cache / sources.TEST_IMAGES).unlink()
    source_dir = mnist_paths[sources.TRAIN_LABELS].parent
    with caplog.at_level("WARNING"):
        found = sources.fetch_mnist(cache_dir=cache, sources=[
            sources.DirectorySource(cache, "cache"), sources.DirectorySource(source_dir, "copy")])
    assert found[sources.TEST_LABELS] == source_dir / sources.TEST_LABELS  # verified
    for bad in (sources.TEST_LABELS, f"{sources.TEST_IMAGES}.gz"):
        assert f"MNIST: {cache / bad}: " in caplog.text
        assert not (cache / bad).exists()
    assert caplog.text.count("removed it from the cache") == 2


@pytest.fixture(scope="module")
def loader():
    done = subprocess.run(["make", "-s", "cc"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return ROOT / "build" / "load_graph"


def _graph_with_input(tmp_path, shape_text):
    path = tmp_path / "graph.pbtxt"
    shape = "" if shape_text is None else f'attr {{ key: "shape" value {{ shape {{ {shape_text} }} }} }}'
    path.write_text(f'''node {{ name: "X" op: "Placeholder"
  attr {{ key: "dtype" value {{ type: DT_FLOAT }} }} {shape} }}
node {{ name: "Y" op: "Identity" input: "X" attr {{ key: "T" value {{ type: DT_FLOAT }} }} }}
versions {{ producer: 1600 }}''')
    return path


@pytest.mark.parametrize("shape, message", [
    ("dim { size: -1 } dim { size: 28 } dim { size: 28 } dim { size: 1 }",
     "input X has shape [?,28,28,1]; load_graph feeds flat images [n, 784] (rank 2)"),
    ("", "input X has shape []; load_graph feeds flat images [n, 784] (rank 2)"),
    ("dim { size: -1 } dim { size: 100 }", "input X takes 100 values per example"),
])
def test_the_cpp_loader_refuses_inputs_it_cannot_feed(loader, tmp_path, shape, message):
    images = tmp_path / "images"
    images.write_bytes(idx.encode_idx(np.zeros((2, 28, 28), np.uint8)))
    done = subprocess.run([str(loader), f"--graph={_graph_with_input(tmp_path, shape)}",
                           f"--images={images}"], capture_output=True, text=True, check=False)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 1 and len(errors) == 1 and message in errors[0], done.stderr


def test_the_cpp_loader_refuses_a_header_whose_sizes_overflow(loader, tmp_path):
    """Unknown input shape (nothing to compare with) and dimensions whose product wraps 2^64:
    this crashed with a 15.6 PiB allocation before the product was checked."""
    images = tmp_path / "overflow"
    images.write_bytes(struct.pack(">IIII", 2051, 2**32 - 1, 2**32 - 1, 2**32 - 1) + b"\0" * 64)
    graph = _graph_with_input(tmp_path, None)
    done = subprocess.run([str(loader), f"--graph={graph}", f"--images={images}"],
                          capture_output=True, text=True, check=False)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 1 and len(errors) == 1, done.stderr
    assert "more than the file's 80 bytes can hold" in errors[0]


def _links(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "file").write_text("x")


@pytest.mark.parametrize("train_dir, message", [
    ("dangling", "is a link to {tmp}/nowhere, which does not exist"),
    ("loop", "is a symbolic link loop"),
    ("file/run", "Not a directory: '{tmp}/file/run'"),
])
def test_train_dirs_that_cannot_be_folders_get_one_line(train_dir, message, tmp_path):
    _links(tmp_path)
    done = _run("train.py", "--model=linear_classifier", f"--train_dir={tmp_path / train_dir}",
                "--max_steps=2", "--nopictures")
    assert message.format(tmp=tmp_path) in _one_error(done)


@pytest.mark.parametrize("mount, expected", [
    ("mount -t tmpfs -o size=64k tmpfs {disk}", "No space left on device"),
    ("mount -t tmpfs tmpfs {disk} && mkdir {disk}/run && mount -o remount,ro {disk}",
     "Read-only file system"),
])
def test_a_full_or_read_only_disk_is_one_line(tmp_path, mount, expected):
    """A tmpfs in a mount namespace of the test's own (no privilege needed where unprivileged
    user namespaces are allowed): 64 KiB hold run.json but not the checkpoint."""
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "true"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here to fill a disk in ({probe.stderr.decode()})")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f"{mount.format(disk=disk)} && exec {sys.executable} {SCRIPTS / 'train.py'} "
              f"--model=linear_classifier --train_dir={disk}/run --max_steps=3 --nopictures")
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", script],
                          capture_output=True, text=True, check=False)
    error = _one_error(done)
    assert expected in error and "out of memory" not in error.lower(), error


@pytest.mark.parametrize("name, text, message", [
    ("run.json", '{"model": "linear_classifier", "hparams": "x", "batch_size": 100, "seed": 0}',
     "hparams is str, not dict"),
    ("run.json", '{"model": "linear_classifier", "hparams": {}, "batch_size": 100, "seed": "0"}',
     "seed is str, not int"),
    ("run.json", "null", "holds null"),
    ("history.json", "[1, 2]", "is not a list of epoch records"),
    ("history.json", '[{"epoch": 0}]', "is not a list of epoch records"),
    ("history.json", '[{"epoch": 0, "step": "5"}]', "is not a list of epoch records"),
    ("history.json", "null", "holds null"),
])
def test_damaged_run_and_history_files_are_named(run, tmp_path, name, text, message):
    folder = tmp_path / "copy"
    shutil.copytree(run[0], folder)
    (folder / name).write_text(text)
    with pytest.raises(rundir.RunFolderError, match=re.escape(message)):
        (rundir.open_run if name == "run.json" else rundir.load_history)(folder)
    if text == "null" and name == "run.json":  # as a user meets it: one line, from train
        done = _run("train.py", "--model=linear_classifier", f"--train_dir={folder}",
                    "--max_steps=4", "--nopictures")
        assert f"{folder / name} holds null" in _one_error(done)


def test_export_flag_and_file_cases_are_refused_before_anything_is_replaced(run, tmp_path):
    folder, _ = run
    (tmp_path / "x.json").mkdir()
    done = _run("export_graph.py", f"--checkpoint={folder}", f"--output={tmp_path / 'x.pb'}")
    assert f"{tmp_path / 'x.json'} is a folder" in _one_error(done)
    assert not (tmp_path / "x.pb").exists()
    done = _run("export_graph.py", f"--checkpoint={folder}", f"--output={tmp_path / 'y.pb'}",
                "--bind=Placeholder_1=\"yes\"")
    assert "cannot bind" in _one_error(done) or "auxiliary placeholders" in _one_error(done)


def test_an_idx_file_of_no_images_is_refused(run, tmp_path):
    empty = idx.write_idx(tmp_path / "empty", np.zeros((0, 28, 28), np.uint8))
    done = _run("summarize_graph.py", f"--graph={run[1]}", f"--images={empty}")
    assert "holds no images" in _one_error(done)


def test_huge_batches_and_layers_are_refused_or_fit(tmp_path):
    done = _run("train.py", "--model=fc_autoencoder", "--hparam=dimensions=[100000000]",
                f"--train_dir={tmp_path / 'huge'}")
    assert "GiB with Adam's slots, and this machine has" in _one_error(done)
    done = _run("train.py", "--model=linear_classifier", "--batch_size=100000000",
                f"--train_dir={tmp_path / 'batch'}", "--max_steps=1", "--nopictures")
    assert done.returncode == 0, done.stderr[-2000:]


def test_an_export_interrupted_between_its_two_files_is_detected_and_cleaned(run, tmp_path):
    from cadl_graph.golden import graphdiff
    folder, _ = run
    pb = tmp_path / "m.pb"
    freeze.export(folder, pb)
    # What a kill between the two renames leaves: a .json that describes another .pb (here,
    # its recorded digest changed), and a temporary file of the interrupted write.
    signature = (tmp_path / "m.json").read_text()
    (tmp_path / "m.json").write_text(signature.replace('"graph_sha256": "', '"graph_sha256": "0'))
    (tmp_path / ".m.pb.tmp-abc.pb").write_bytes(b"partial")
    done = subprocess.run([sys.executable, str(SCRIPTS / "diff_graph.py"), str(pb),
                           "linear_classifier.frozen.ops.txt"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2 and "describes another export than" in done.stderr
    with pytest.raises(Exception, match="describes another export"):
        graphdiff.export_constants(pb)
    freeze.export(folder, pb)  # the next export removes what the interrupted one left
    assert not (tmp_path / ".m.pb.tmp-abc.pb").exists()
    assert graphdiff.export_constants(pb) == ("layer1/W", "layer1/b")


@pytest.mark.parametrize("flag", ["--graph", "--images"])
def test_the_cpp_loader_refuses_a_device_or_a_pipe(loader, run, tmp_path, flag):
    images = idx.write_idx(tmp_path / "images", np.zeros((2, 28, 28), np.uint8))
    args = {"--graph": str(run[1]), "--images": str(images), flag: "/dev/zero"}
    done = subprocess.run([str(loader), *(f"{k}={v}" for k, v in args.items())],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 1 and "/dev/zero is not a regular file" in done.stderr
