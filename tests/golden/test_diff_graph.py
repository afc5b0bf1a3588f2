"""scripts/diff_graph.py on graphs that are not this project's, and on its own goldens."""

import subprocess
import sys
from pathlib import Path

import pytest

from cadl_graph.compat import tf
from cadl_graph.golden import graphdiff, listing

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "diff_graph.py"


def _write_graph(path, epsilon=1e-12, as_text=False):
    """A small graph of somebody else's (two dense layers, a cost, SGD), as .pb or .pbtxt."""
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 6], name="inputs")
        h = tf.nn.relu(tf.matmul(x, tf.get_variable("hidden/kernel", [6, 3])))
        y = tf.nn.softmax(tf.matmul(h, tf.get_variable("out/kernel", [3, 2])), name="probs")
        cost = -tf.reduce_mean(tf.log(y + epsilon))
        tf.train.GradientDescentOptimizer(0.5).minimize(cost)
        tf.train.write_graph(graph.as_graph_def(), str(path.parent), path.name,
                             as_text=as_text)
        meta = tf.train.export_meta_graph()
    return path, meta


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, check=False)


def test_the_same_graph_in_any_form_is_the_same(tmp_path):
    pb, meta = _write_graph(tmp_path / "a.pb")
    pbtxt, _ = _write_graph(tmp_path / "a.pbtxt", as_text=True)
    meta_path = tmp_path / "a.meta"
    meta_path.write_bytes(meta.SerializeToString())
    golden_file = tmp_path / "a.ops.txt"
    listing.write(golden_file, listing.render("a", {}, graphdiff.lines_of(pb)))
    for other in (pbtxt, meta_path, golden_file):
        done = _run(pb, other)
        assert done.returncode == 0 and "the same graph" in done.stdout, (other, done.stderr)


def test_a_changed_constant_is_named_and_exits_1(tmp_path):
    a, _ = _write_graph(tmp_path / "a.pb")
    b, _ = _write_graph(tmp_path / "b.pb", epsilon=1e-8)
    done = _run(a, b)
    assert done.returncode == 1
    assert "~ add/y: value 1e-12 -> 1e-08" in done.stdout
    ignored = _run(a, b, "--ignore=add*", "--ignore=gradients")
    assert ignored.returncode == 0, ignored.stdout


def test_a_registry_model_against_its_golden_and_another_model(tmp_path):
    assert _run("conv_autoencoder", listing.golden_path("conv_autoencoder")).returncode == 0
    done = _run("vae", listing.golden_path("vae", "bn_in_cond.ops"))
    assert done.returncode == 1
    # The batch-norm lesson in diff form: the update moves into the cond, and the training
    # branch's Identity waits for the new one.
    assert "- encoder/0/bn0/ExponentialMovingAverage (NoOp)" in done.stdout
    assert "+ encoder/0/bn0/cond/ExponentialMovingAverage (NoOp)" in done.stdout
    assert ("~ encoder/0/bn0/cond/Identity: inputs encoder/0/bn0/cond/Identity/Switch:1,"
            "^encoder/0/bn0/ExponentialMovingAverage -> ") in done.stdout


@pytest.mark.parametrize("args, status, message", [
    (["nothing-here.pb", "vae"], 2, "is neither a file"),
    (["vae"], 1, "give two graphs"),
])
def test_bad_inputs(args, status, message, tmp_path):
    done = _run(*args)
    assert done.returncode == status and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_that_is_not_a_graph_exits_2(tmp_path):
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\x00\xff not a graph")
    done = _run(junk, "vae")
    assert done.returncode == 2 and "parses neither" in done.stderr
