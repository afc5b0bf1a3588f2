"""SavedModel exports and deterministic exports: goldens, the frozen .pb's outputs in every
consumer (saved_model_cli, TF2's tf.saved_model.load, the Python scorer, the C++ loader), and
SavedModels from elsewhere checked like graphs from elsewhere."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cadl_graph import graphfile, untrusted
from cadl_graph.compat import tf
from cadl_graph.export import freeze, predict, saved_model
from cadl_graph.golden import graphdiff, listing
from cadl_graph.graphs import registry

ROOT = Path(__file__).resolve().parents[2]
SUMMARIZE = ROOT / "scripts" / "summarize_graph.py"
EXPORT = ROOT / "scripts" / "export_graph.py"
SAMPLING = ("vae", "conv_vae", "denoising_autoencoder")
# A consumer that is not this package: TensorFlow's own tools, run without v1 mode.
QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="session")
def saved_models(runs, tmp_path_factory):
    """Every registry model exported as a SavedModel: {name: (folder, signature)}."""
    root = tmp_path_factory.mktemp("saved_models")
    return {name: (root / name, freeze.export(train_dir, root / name,
                                              output_format="saved_model"))
            for name, train_dir in runs.items()}


@pytest.mark.parametrize("name", registry.NAMES)
def test_a_saved_models_graph_matches_its_golden(name, saved_models, project_golden):
    folder, signature = saved_models[name]
    meta_graph = graphfile.load_meta_graph(folder)
    assert list(meta_graph.meta_info_def.tags) == ["serve"]
    assert not list(folder.glob("variables/*"))  # weights are constants: nothing to restore
    # The signatures are part of what is pinned: they are written into the golden's header.
    signatures = {key: f"{', '.join(f'{k}={v.name}' for k, v in sorted(s.inputs.items()))} -> "
                       f"{', '.join(f'{k}={v.name}' for k, v in sorted(s.outputs.items()))}"
                  for key, s in sorted(meta_graph.signature_def.items())}
    project_golden.check(meta_graph.graph_def, listing.golden_path(name, "saved_model.ops").name,
                         title=f"{name} (SavedModel export, tag serve)",
                         opaque=signature["trained_constants"], hparams=signatures)
    assert graphdiff.compare(folder, listing.golden_path(name, "saved_model.ops")) == []


@pytest.mark.parametrize("name", registry.NAMES)
def test_a_saved_model_gives_the_frozen_exports_outputs(name, saved_models, exports,
                                                        idx_files):
    folder, _ = saved_models[name]
    graph_def = exports[name][1]
    pixels = idx_files[2][:200]
    # One run each in a fresh session: a VAE's draws come from op seeds recorded in the
    # graph, so even the sampling exports agree on their first run.
    frozen = predict.run_graph(graph_def, pixels)
    loaded = predict.run_graph(None, pixels, saved_model=folder)
    assert np.abs(frozen - loaded).max() <= 1e-6


@pytest.mark.parametrize("name", SAMPLING)
def test_a_deterministic_export_repeats_itself_and_matches_its_golden(name, runs, tmp_path,
                                                                      idx_files,
                                                                      project_golden):
    pixels = idx_files[2][:100]
    sampled = freeze.export(runs[name], tmp_path / "sampled.pb")
    assert sampled["random_ops"] and not sampled["deterministic"]
    mean = freeze.export(runs[name], tmp_path / "mean.pb", deterministic=True)
    assert mean["random_ops"] == [] and mean["deterministic"]
    graph_def = graphfile.load_graph_def(tmp_path / "mean.pb")
    project_golden.check(graph_def, listing.golden_path(name, "deterministic.frozen.ops").name,
                         title=f"{name} (frozen export, deterministic)",
                         opaque=mean["trained_constants"],
                         hparams={"part": "model", "deterministic": True})
    for path in ("sampled.pb", "mean.pb"):
        runner = predict.Runner(graphfile.load_graph_def(tmp_path / path))
        first, second = runner(pixels), runner(pixels)
        runner.close()
        if path == "mean.pb" or name == "denoising_autoencoder":  # its noise is multiplied by 0
            assert np.array_equal(first, second), path
        else:  # the course's VAE samples: one session, one input, two outputs
            assert np.abs(first - second).max() > 1e-3
    # Deterministic means z = z_mu: the encoder export's code, decoded, is the output.
    freeze.export(runs[name], tmp_path / "enc.pb", part="encoder", deterministic=True)
    freeze.export(runs[name], tmp_path / "dec.pb", part="decoder")
    code = predict.run_graph(graphfile.load_graph_def(tmp_path / "enc.pb"), pixels,
                             output_name="Z")
    decoded = predict.run_graph(graphfile.load_graph_def(tmp_path / "dec.pb"), code,
                                input_name="Z")
    np.testing.assert_allclose(decoded, predict.run_graph(graph_def, pixels), atol=1e-6)


def test_deterministic_is_refused_where_nothing_is_drawn(runs, tmp_path):
    with pytest.raises(freeze.ExportError, match="deterministic already.*vae, conv_vae"):
        freeze.export(runs["conv_classifier"], tmp_path / "x.pb", deterministic=True)


def _tf2(code, *args):
    """Runs `code` in a fresh interpreter (in TF2's default, eager mode unless the code imports
    the package, which turns on graph mode), as a TF2 user would."""
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, env=QUIET, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


FROZEN_SCORE = """
import sys, numpy as np
from cadl_graph import graphfile
from cadl_graph.export import predict
graph_def = graphfile.load_graph_def(sys.argv[1])
np.save(sys.argv[3], predict.run_graph(graph_def, np.load(sys.argv[2])))
"""

TF2_SCORE = """
import sys, numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
x = tf.constant(np.load(sys.argv[2]))
out = {key: model.signatures[key] for key in model.signatures}
y = out["serving_default"](X=x)["Y"].numpy()
np.save(sys.argv[3], y)
if "decode" in out:
    z = out["encode"](X=x)["Z"]
    np.save(sys.argv[4], out["decode"](Z=z)["Y"].numpy())
print(sorted(out))
"""


@pytest.mark.parametrize("name", ["conv_classifier", "vae"])
def test_tensorflow_itself_loads_and_runs_a_saved_model(name, runs, idx_files, tmp_path):
    folder = tmp_path / "model"
    freeze.export(runs[name], folder, output_format="saved_model", deterministic=name == "vae")
    pixels = idx_files[2][:50]
    np.save(tmp_path / "x.npy", pixels)
    frozen = tmp_path / "frozen.pb"
    freeze.export(runs[name], frozen, deterministic=name == "vae")
    # In a fresh interpreter too: TensorFlow sizes its intra-op thread pool once per process,
    # from the first session's settings (a test before this one may have asked for 1 thread),
    # and another pool size sums the convolutions in another order.
    _tf2(FROZEN_SCORE, frozen, tmp_path / "x.npy", tmp_path / "expected.npy")
    expected = np.load(tmp_path / "expected.npy")

    keys = _tf2(TF2_SCORE, folder, tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "yz.npy")
    assert np.abs(np.load(tmp_path / "y.npy") - expected).max() <= 1e-6
    if name == "vae":
        assert keys.strip() == "['decode', 'encode', 'serving_default']"
        # encode then decode is the whole model when it decodes z = z_mu
        assert np.abs(np.load(tmp_path / "yz.npy") - expected).max() <= 1e-6

    cli = str(Path(sys.executable).with_name("saved_model_cli"))
    shown = subprocess.run([cli, "show", "--dir", str(folder), "--all"], capture_output=True,
                           text=True, env=QUIET, check=False)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "signature_def['serving_default']" in shown.stdout
    assert "inputs['X'] tensor_info" in shown.stdout and "shape: (-1, 784)" in shown.stdout
    ran = subprocess.run([cli, "run", "--dir", str(folder), "--tag_set", "serve",
                          "--signature_def", "serving_default", "--inputs",
                          f"X={tmp_path / 'x.npy'}", "--outdir", str(tmp_path / "cli")],
                         capture_output=True, text=True, env=QUIET, check=False)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert np.abs(np.load(tmp_path / "cli" / "Y.npy") - expected).max() <= 1e-6


def test_the_cpp_loader_runs_a_saved_model_as_it_runs_the_pb(saved_models, exports, loader,
                                                            idx_files, tmp_path):
    images_file, labels_file, _ = idx_files
    results = []
    for graph, extra in ((exports["conv_classifier"][0], []),
                         (saved_models["conv_classifier"][0], []),
                         (saved_models["conv_classifier"][0], ["--signature=serving_default"])):
        dump = tmp_path / f"y{len(results)}.f32"
        done = subprocess.run([str(loader), f"--graph={graph}", f"--images={images_file}",
                               f"--labels={labels_file}", f"--dump={dump}", *extra],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        accuracy = next(line for line in done.stdout.splitlines() if line.startswith("accuracy"))
        results.append((accuracy, np.fromfile(dump, np.float32)))
    assert results[0][0] == results[1][0] == results[2][0]
    assert np.abs(results[0][1] - results[1][1]).max() <= 1e-6
    vae = saved_models["vae"][0]
    encode = subprocess.run([str(loader), f"--graph={vae}", "--signature=encode",
                             f"--images={images_file}", "--limit=5"], capture_output=True,
                            text=True, check=False)
    assert encode.returncode == 0 and "X:0 -> code:0 (2 values each)" in encode.stdout, encode
    for args, message in (
            (["--signature=nope"], "has no signature 'nope'; it has:"),
            ([f"--graph={exports['vae'][0]}", "--signature=encode"],
             "--signature applies to a SavedModel folder")):
        done = subprocess.run([str(loader), f"--graph={vae}", f"--images={images_file}", *args],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 1 and message in done.stderr, done.stderr


def test_summarize_lists_signatures_and_says_whether_a_graph_samples(saved_models, exports,
                                                                     idx_files):
    images_file, labels_file, _ = idx_files
    done = subprocess.run([sys.executable, str(SUMMARIZE),
                           f"--graph={saved_models['vae'][0]}", f"--images={images_file}",
                           "--limit=10"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "decode: Z=Z:0 -> Y=Y:0" in done.stdout and "encode: X=X:0 -> Z=code:0" in done.stdout
    assert "Draws random numbers (variational/random_normal/RandomStandardNormal)" in done.stdout
    assert "ran 10 inputs: Y has shape (10, 784)" in done.stdout
    plain = subprocess.run([sys.executable, str(SUMMARIZE),
                            f"--graph={exports['conv_classifier'][0]}"],
                           capture_output=True, text=True, check=False)
    assert "Draws no random numbers" in plain.stdout, plain.stderr[-2000:]


def test_the_script_writes_a_saved_model_and_replaces_only_a_saved_model(runs, tmp_path):
    out = tmp_path / "cc_saved_model"
    for _ in range(2):  # the second run replaces the first
        done = subprocess.run([sys.executable, str(EXPORT), f"--checkpoint={runs['vae']}",
                               "--format=saved_model", "--deterministic", f"--output={out}"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
    assert "signatures: serving_default X -> Y; encode X -> Z; decode Z -> Y" in done.stdout
    assert "samples: no" in done.stdout
    saved = json.loads((out / graphfile.SAVED_MODEL_SIGNATURE).read_text())
    assert saved["format"] == "saved_model" and saved["deterministic"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cc_saved_model"]  # no leftovers
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "keep.txt").write_text("mine")
    refused = subprocess.run([sys.executable, str(EXPORT), f"--checkpoint={runs['vae']}",
                              "--format=saved_model", f"--output={notes}"],
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "is a folder that is not a SavedModel" in refused.stderr
    assert (notes / "keep.txt").read_text() == "mine"


def _foreign_saved_model(folder, effect=None, in_init=False):
    """A SavedModel as TensorFlow's builder writes one with a variable (so with Saver ops):
    Y = X * w; `effect(target)` a control dependency of Y, or of the init op (`in_init`)."""
    target = folder.parent / f"{folder.name}-touched"
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 784], name="X")
        w = tf.get_variable("w", [], initializer=tf.constant_initializer(2.0))
        deps = [effect(str(target))] if effect and not in_init else []
        with tf.control_dependencies(deps):
            y = tf.identity(x * w, name="Y")
        init = tf.group(*([effect(str(target))] if effect and in_init else []), name="extra")
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            builder = tf.saved_model.Builder(str(folder))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map=saved_model.signature_defs(graph, {
                    "serving_default": dict(inputs={"X": {"name": "X"}},
                                            outputs={"Y": {"name": "Y"}})}),
                main_op=init if in_init else None)
            builder.save()
    del y
    return target


def test_saved_models_from_elsewhere_are_checked_before_anything_runs(tmp_path, loader,
                                                                      idx_files):
    images_file = idx_files[0]
    plain = tmp_path / "plain"
    _foreign_saved_model(plain)
    meta_graph = graphfile.load_meta_graph(plain)
    saver = untrusted.saver_ops(meta_graph)
    assert {n.op for n in meta_graph.graph_def.node if n.name in saver} == {
        "SaveV2", "RestoreV2", "MergeV2Checkpoints"}
    ones = np.ones((2, 784), np.float32)
    assert np.array_equal(predict.run_graph(None, ones, saved_model=plain), 2 * ones)
    cpp = subprocess.run([str(loader), f"--graph={plain}", f"--images={images_file}",
                          "--limit=2", "--rows=1"], capture_output=True, text=True, check=False)
    assert cpp.returncode == 0, cpp.stderr

    def write(target):
        return tf.io.write_file(target, "written by a SavedModel")

    for in_init in (False, True):
        folder = tmp_path / f"hostile-{in_init}"
        target = _foreign_saved_model(folder, write, in_init)
        with pytest.raises(untrusted.UntrustedGraphError, match="WriteFile: writes a file"):
            predict.run_graph(None, ones, saved_model=folder)
        cpp = subprocess.run([str(loader), f"--graph={folder}", f"--images={images_file}"],
                             capture_output=True, text=True, check=False)
        assert cpp.returncode == 1 and "refused before anything ran" in cpp.stderr, cpp.stderr
        assert not target.exists()
    # The Saver's own ops are allowed for the loader's restore, not for an output.
    with pytest.raises(untrusted.UntrustedGraphError, match="would run its Saver's ops"):
        predict.run_graph(None, ones, output_name=meta_graph.saver_def.save_tensor_name,
                          saved_model=plain)
    cpp = subprocess.run([str(loader), f"--graph={plain}", f"--images={images_file}",
                          f"--output={meta_graph.saver_def.save_tensor_name}"],
                         capture_output=True, text=True, check=False)
    assert cpp.returncode == 1 and "would run its Saver's ops" in cpp.stderr, cpp.stderr
