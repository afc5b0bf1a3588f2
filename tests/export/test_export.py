"""Frozen exports: goldens, equal to the live graph, loadable from C++ with equal outputs."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cadl_graph import graphfile
from cadl_graph.compat import tf
from cadl_graph.data import idx
from cadl_graph.export import freeze, predict
from cadl_graph.golden import graphdiff, listing
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints, rundir

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "scripts" / "export_graph.py"
SUMMARIZE = ROOT / "scripts" / "summarize_graph.py"
VAES = ("vae", "conv_vae", "denoising_autoencoder")


# What training adds to the model's graph: its step counter, the Saver, and their initializer
# (init_1, or init_2 in lecture_sequence, which has an init_1 of its own).
TRAINING_MACHINERY = ["global_step", "save", "init_*"]


@pytest.mark.parametrize("name", registry.NAMES)
def test_a_run_folder_holds_its_meta_graph_which_is_the_registry_graph(name, runs):
    assert (runs[name] / graphfile.RUN_META_GRAPH).is_file()
    assert graphdiff.compare(runs[name], name, ignore=TRAINING_MACHINERY) == []


@pytest.mark.parametrize("name", registry.NAMES)
def test_an_export_equals_its_frozen_golden_through_its_json(name, exports):
    path, _, signature = exports[name]
    golden = listing.golden_path(name, "frozen.ops")
    assert graphdiff.compare(path, golden) == []
    if signature["trained_constants"]:  # without the .json's list, trained values differ
        assert graphdiff.compare(path, golden, export_json=False) != []


def test_opaque_patterns_are_checked_against_both_graphs(exports):
    path = exports["linear_classifier"][0]
    golden = listing.golden_path("linear_classifier", "frozen.ops")
    assert graphdiff.compare(path, golden, export_json=False, opaque=["layer1/*"]) == []
    with pytest.raises(listing.PatternError, match="'layer9'"):
        graphdiff.compare(path, golden, opaque=["layer9"])
    with pytest.raises(TypeError, match="write opaque="):
        graphdiff.compare(path, golden, opaque="layer1/W")


@pytest.fixture(scope="module")
def images(ds):
    return ds.test.images[:64]


@pytest.mark.parametrize("name", registry.NAMES)
def test_frozen_graph_matches_its_golden(name, exports, project_golden):
    path, graph_def, signature = exports[name]
    lines = listing.graph_def_lines(graph_def, opaque=signature["trained_constants"])
    kinds = {line.split("\t")[1] for line in lines}
    assert not kinds & {"VariableV2", "Assign", "AssignSub", "ApplyAdam", "NoOp"}
    assert not any(line.startswith(("gradients", "Adam", "beta1_power")) for line in lines)
    assert signature["inputs"][0]["name"] == "X" and signature["outputs"][0]["name"] == "Y"
    assert graph_def.versions.producer == tf.GRAPH_DEF_VERSION
    project_golden.check(graph_def, listing.golden_path(name, "frozen.ops").name,
                         title=f"{name} (frozen export)", opaque=signature["trained_constants"],
                         hparams={"part": "model"})


@pytest.fixture(scope="module")
def frozen_vs_live(runs, exports, images, tmp_path_factory):
    """Max |frozen - live| per (model, part), computed with oneDNN off (see frozen_vs_live.py).
    """
    root = tmp_path_factory.mktemp("parts")
    np.save(root / "images.npy", images)
    cases, keys = [], []
    for name in registry.NAMES:
        cases.append(dict(train_dir=str(runs[name]), graph=str(exports[name][0]), part="model"))
        keys.append((name, "model"))
    for name in VAES:
        for part in ("encoder", "decoder"):
            path = root / f"{name}-{part}.pb"
            freeze.export(runs[name], path, part=part)
            n_code = 256 if name == "denoising_autoencoder" else 2
            codes = np.random.default_rng(0).normal(0, 1, (16, n_code)).tolist()
            cases.append(dict(train_dir=str(runs[name]), graph=str(path), part=part,
                              codes=codes))
            keys.append((name, part))
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "export" / "frozen_vs_live.py")],
        input=json.dumps(dict(images=str(root / "images.npy"), cases=cases)),
        capture_output=True, text=True, check=False,
        env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(zip(keys, json.loads(done.stdout)))


@pytest.mark.parametrize("name", registry.NAMES)
def test_frozen_outputs_equal_the_live_session(name, frozen_vs_live):
    assert frozen_vs_live[(name, "model")] == 0.0


@pytest.mark.parametrize("name", VAES)
def test_vae_encoder_and_decoder_exports_equal_the_live_session(name, frozen_vs_live, runs,
                                                                 tmp_path):
    assert frozen_vs_live[(name, "encoder")] == 0.0
    assert frozen_vs_live[(name, "decoder")] == 0.0
    signature = freeze.export(runs[name], tmp_path / "dec.pb", part="decoder")
    assert signature["inputs"][0]["name"] == "Z"
    assert signature["outputs"][0]["name"] == "Y"


def _cpp(loader, *args):
    return subprocess.run([str(loader), *map(str, args)], capture_output=True, text=True,
                          errors="replace", check=False)


@pytest.mark.parametrize("name", registry.NAMES)
def test_cpp_outputs_equal_python(name, exports, loader, idx_files, tmp_path):
    path, graph_def, _ = exports[name]
    images_file, labels_file, pixels = idx_files
    dump = tmp_path / "y.f32"
    done = _cpp(loader, f"--graph={path}", f"--images={images_file}",
                f"--labels={labels_file}", f"--dump={dump}", "--batch=100")
    assert done.returncode == 0, done.stderr
    python = predict.run_graph(graph_def, pixels, batch_size=100)
    cpp = np.fromfile(dump, dtype=np.float32).reshape(python.shape)
    assert np.abs(cpp - python).max() <= 1e-5
    if python.shape[-1] == 10:
        accuracy = np.mean(python.argmax(axis=1) == idx.read_idx(labels_file))
        assert f"accuracy {accuracy:.6f}" in done.stdout
    else:
        flat = python.reshape(len(python), -1)
        cost = np.mean(np.mean((flat - pixels) ** 2, axis=1))
        assert f"mean reconstruction cost {cost:.6f}" in done.stdout


@pytest.mark.parametrize("name", ["fc_autoencoder", "conv_vae"])
def test_cpp_inter_op_modes_give_bit_identical_outputs(name, exports, loader, idx_files,
                                                       tmp_path):
    """Ops in the calling thread, on the pool, or whichever auto times faster: the same bits."""
    images_file, _, pixels = idx_files
    assert len(pixels) >= 8 * 10, "auto needs a warm-up batch and six trial batches"
    outputs, choices = {}, {}
    for mode in ("caller", "pool", "auto"):
        dump = tmp_path / f"{mode}.f32"
        done = _cpp(loader, f"--graph={exports[name][0]}", f"--images={images_file}",
                    f"--dump={dump}", "--batch=10", f"--inter_op={mode}")
        assert done.returncode == 0, done.stderr
        outputs[mode] = dump.read_bytes()
        choices[mode] = next(line for line in done.stdout.splitlines()
                             if line.startswith("inter-op: "))
    assert outputs["caller"] == outputs["pool"] == outputs["auto"]
    assert choices["caller"] == "inter-op: caller (--inter_op)"
    assert choices["pool"] == "inter-op: pool (--inter_op)"
    assert re.fullmatch(r"inter-op: (caller|pool) \(auto: median batch [\d.]+ ms in the caller "
                        r"thread, [\d.]+ ms on the pool\)", choices["auto"]), choices["auto"]


def test_cpp_failures_give_one_clear_line(loader, exports, idx_files, tmp_path):
    path = exports["linear_classifier"][0]
    images_file, labels_file, _ = idx_files
    garbage = tmp_path / "garbage.pb"
    garbage.write_bytes(b"\x00\xffnot a graph at all")
    small = tmp_path / "small-images"
    small.write_bytes(idx.encode_idx(np.zeros((3, 10, 10), np.uint8)))
    cases = [
        ([f"--graph={tmp_path}/missing.pb", f"--images={images_file}"], "does not exist"),
        ([f"--graph={garbage}", f"--images={images_file}"], "parses neither"),
        ([f"--graph={path}", f"--images={images_file}", "--output=Softmax"],
         "node 'Softmax' is not in the graph"),
        ([f"--graph={path}", f"--images={small}"], "takes 784 values per example"),
        ([f"--graph={path}", f"--images={labels_file}"], "magic number 2049, expected 2051"),
        ([f"--graph={path}"], "--graph and --images are required"),
        ([f"--graph={path}", f"--images={images_file}", "--batch=x"], "whole number"),
        ([f"--graph={path}", f"--images={images_file}", "--inter_op=2"],
         "--inter_op takes auto, caller or pool"),
    ]
    for args, message in cases:
        done = _cpp(loader, *args)
        assert done.returncode == 1, args
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], (args, done.stderr)


def test_export_errors_name_the_problem(runs, tmp_path):
    train_dir = runs["linear_classifier"]
    out = tmp_path / "x.pb"
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint in folder"):
        freeze.export(tmp_path, out)
    with pytest.raises(rundir.RunFolderError, match="saved by a linear_classifier run"):
        freeze.export(train_dir, out, model="conv_classifier")
    with pytest.raises(freeze.ExportError, match=r"':0'.*'import/'.*Close names: layer1/Softmax"):
        freeze.export(train_dir, out, output_nodes=["layer1/Softmaxx"])
    with pytest.raises(freeze.ExportError, match="list of output nodes is empty"):
        freeze.export(train_dir, out, output_nodes=[])
    with pytest.raises(freeze.ExportError, match="is a training op"):
        freeze.export(train_dir, out, output_nodes=["Adam"])
    frozen = tmp_path / "frozen.pb"
    freeze.export(train_dir, frozen)
    with pytest.raises(freeze.ExportError, match="already a frozen graph"):
        freeze.export(frozen, out)
    with pytest.raises(freeze.ExportError, match="cannot bind 'keep_prob'"):
        freeze.export(train_dir, out, bind={"keep_prob": 1.0})
    with pytest.raises(freeze.ExportError, match="decoder reads the input placeholder"):
        freeze.export(runs["conv_autoencoder"], out, part="decoder")
    prefix = checkpoints.resolve(runs["fc_autoencoder"])
    with pytest.raises(checkpoints.CheckpointError, match=r"encoder/layer/0/W: graph \[784, 32\]"):
        freeze.build_export(prefix, "fc_autoencoder", {"dimensions": [32, 16]})
    assert not out.exists()


def test_custom_output_nodes_keep_their_names(runs, tmp_path, images):
    path = tmp_path / "codes.pb"
    signature = freeze.export(runs["fc_autoencoder"], path,
                              output_nodes=["encoder/layer/3/Relu:0"])
    assert [o["name"] for o in signature["outputs"]] == ["encoder/layer/3/Relu"]
    graph_def = graphfile.load_graph_def(path)
    codes = predict.run_graph(graph_def, images, output_name="encoder/layer/3/Relu")
    encoder = tmp_path / "enc.pb"
    freeze.export(runs["fc_autoencoder"], encoder, part="encoder")
    np.testing.assert_array_equal(
        codes, predict.run_graph(graphfile.load_graph_def(encoder), images, output_name="Z"))


def test_leftover_variables_and_unbound_placeholders_are_refused():
    with tf.Graph().as_default() as g:
        tf.placeholder(tf.float32, [None, 2], name="X")
        tf.placeholder(tf.float32, [], name="keep_prob")
        tf.get_variable("W", [2])
    model = registry.build_in_new_graph("linear_classifier")
    with pytest.raises(freeze.ExportError, match="variables or updates left after freezing: W"):
        freeze._check_inference_graph(g.as_graph_def(), {"X"}, model, "model")
    with tf.Graph().as_default() as g2:
        tf.placeholder(tf.float32, [None, 2], name="X")
        tf.placeholder(tf.float32, [], name="keep_prob")
    with pytest.raises(freeze.ExportError, match="--bind=keep_prob=1.0"):
        freeze._check_inference_graph(g2.as_graph_def(), {"X"}, model, "model")


def test_binding_changes_the_export(runs, tmp_path, images):
    clean, noisy = tmp_path / "clean.pb", tmp_path / "noisy.pb"
    freeze.export(runs["denoising_autoencoder"], clean)
    signature = freeze.export(runs["denoising_autoencoder"], noisy, bind={"Placeholder": [1.0]})
    assert signature["bound"]["Placeholder"] == [1.0]
    a = predict.run_graph(graphfile.load_graph_def(clean), images)
    b = predict.run_graph(graphfile.load_graph_def(noisy), images)
    assert np.abs(a - b).max() > 1e-3


def test_loading_recognises_what_a_file_is(exports, tmp_path):
    graph_def = exports["linear_classifier"][1]
    text = tmp_path / "g.pbtxt"
    text.write_text(str(graph_def))
    assert len(graphfile.load_graph_def(text).node) == len(graph_def.node)
    garbage = tmp_path / "g.pb"
    garbage.write_bytes(b"\x00\x01\x02 definitely not protobuf \xff\xfe")
    with pytest.raises(graphfile.GraphFileError, match="neither as a binary nor as a text"):
        graphfile.load_graph_def(garbage)
    saved_model = tmp_path / "sm"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"")
    with pytest.raises(graphfile.GraphFileError, match="SavedModel"):
        graphfile.load_graph_def(saved_model)
    with tf.Graph().as_default():
        tf.get_variable("W", [2])
        meta = tf.train.export_meta_graph()
    meta_file = tmp_path / "model.ckpt.meta"
    meta_file.write_bytes(meta.SerializeToString())
    with pytest.raises(graphfile.GraphFileError, match="MetaGraphDef"):
        graphfile.load_graph_def(meta_file)


def test_version_skew_and_bad_feeds_are_reported(exports):
    graph_def = tf.GraphDef()
    graph_def.CopyFrom(exports["linear_classifier"][1])
    with pytest.raises(graphfile.GraphFileError, match="takes shape"):
        predict.run_graph(graph_def, np.zeros((2, 100), np.float32))
    with pytest.raises(graphfile.GraphFileError, match="takes float32"):
        predict.run_graph(graph_def, np.zeros((2, 784), np.complex64))
    with pytest.raises(graphfile.GraphFileError, match="node 'Softmax' is not in the graph"):
        predict.run_graph(graph_def, np.zeros((2, 784), np.float32), output_name="Softmax")
    graph_def.versions.producer = tf.GRAPH_DEF_VERSION + 100
    assert "newer TensorFlow" in graphfile.check_versions(graph_def)[0][1]
    graph_def.versions.min_consumer = tf.GRAPH_DEF_VERSION + 50
    with pytest.raises(graphfile.GraphFileError, match="needs a TensorFlow"):
        predict.run_graph(graph_def, np.zeros((2, 784), np.float32))


def _script(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True,
                          text=True, check=False)


def test_scripts_export_summarize_and_refuse_bad_flags(runs, tmp_path, idx_files):
    out = tmp_path / "cc.pb"
    done = _script(EXPORT, f"--checkpoint={runs['conv_classifier']}", f"--output={out}")
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and json.loads(out.with_suffix(".json").read_text())["step"] == 3
    images_file, labels_file, _ = idx_files
    summary = _script(SUMMARIZE, f"--graph={out}", f"--images={images_file}",
                      f"--labels={labels_file}")
    assert summary.returncode == 0, summary.stderr
    assert "Found 1 possible inputs: (name=X, type=float32, shape=[?,784])" in summary.stdout
    assert "(name=Y)" in summary.stdout and "accuracy " in summary.stdout
    # The counts summarize_graph prints, computed from the file itself.
    graph_def = graphfile.load_graph_def(out)
    parameters = sum(int(np.prod(tf.make_ndarray(n.attr["value"].tensor).shape))
                     for n in graph_def.node
                     if n.op == "Const" and n.attr["value"].tensor.dtype == tf.float32.as_datatype_enum)
    controls = sum(i.startswith("^") for n in graph_def.node for i in n.input)
    assert (f"Found {parameters} const parameters, 0 variables, and {controls} control edges"
            in summary.stdout)
    missing = _script(EXPORT, f"--checkpoint={tmp_path}/nope", f"--output={out}")
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert _script(EXPORT, f"--checkpoint={out}", f"--output={out}", "surplus").returncode != 0
    conflicting = _script(SUMMARIZE, f"--graph={out}", f"--labels={labels_file}")
    assert conflicting.returncode != 0 and "--labels applies only with --images" in conflicting.stderr
    bad_bind = _script(EXPORT, f"--checkpoint={runs['vae']}", f"--output={out}", "--bind=oops")
    assert bad_bind.returncode != 0 and "NAME=VALUE" in bad_bind.stderr
