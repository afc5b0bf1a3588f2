"""A graph file from elsewhere is a program: ops that reach outside it are refused, before
anything runs, by every tool that runs a graph (Python and C++), unless trusted."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorflow.python.framework import function

from cadl_graph import untrusted
from cadl_graph.compat import tf
from cadl_graph.data import idx
from cadl_graph.export import predict, summarize

ROOT = Path(__file__).resolve().parents[2]
LOADER = ROOT / "build" / "load_graph"
SUMMARIZE = ROOT / "scripts" / "summarize_graph.py"


def _graph(tmp_path, effect):
    """X [?, 784] -> Y = identity(X), with `effect(target)` as a control dependency of Y; the
    .pb's path and the file the effect would touch."""
    target = tmp_path / "touched.txt"
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 784], name="X")
        with tf.control_dependencies([effect(str(target))]):
            tf.identity(x, name="Y")
    path = tmp_path / "hostile.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path, target


def _write(target):
    return tf.io.write_file(target, "written by a graph")


def _print_to_file(target):
    return tf.print("printed by a graph", output_stream=f"file://{target}")


def _write_inside_a_function(target):
    @function.Defun(tf.float32)
    def innocent_looking(v):
        with tf.control_dependencies([tf.io.write_file(target, "written by a function")]):
            return tf.identity(v)
    return innocent_looking(tf.constant(1.0)).op


EFFECTS = {"WriteFile": _write, "PrintV2": _print_to_file,
           "innocent_looking": _write_inside_a_function}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    return idx.write_idx(folder / "images", np.zeros((4, 28, 28), np.uint8))


@pytest.mark.parametrize("op", EFFECTS)
def test_python_refuses_then_runs_when_trusted(op, tmp_path, images):
    path, target = _graph(tmp_path, EFFECTS[op])
    done = subprocess.run([sys.executable, str(SUMMARIZE), f"--graph={path}",
                           f"--images={images}"], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "reach outside the graph, refused before anything ran" in done.stderr
    assert "--trust_graph" in done.stderr, done.stderr
    assert any(f"({name}: " in done.stderr for name in ("WriteFile", "PrintV2")), done.stderr
    assert not target.exists()
    # The summary itself marks them.
    assert "Ops that reach outside the graph" in done.stdout
    trusted = subprocess.run([sys.executable, str(SUMMARIZE), f"--graph={path}",
                              f"--images={images}", "--trust_graph"], capture_output=True,
                             text=True, check=False)
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    assert target.exists()


@pytest.mark.parametrize("op", EFFECTS)
def test_the_cpp_loader_refuses_then_runs_when_trusted(op, tmp_path, images):
    path, target = _graph(tmp_path, EFFECTS[op])
    done = subprocess.run([str(LOADER), f"--graph={path}", f"--images={images}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "refused before anything ran" in done.stderr, done.stderr
    assert not target.exists()
    trusted = subprocess.run([str(LOADER), f"--graph={path}", f"--images={images}",
                              "--trust_graph"], capture_output=True, text=True, check=False)
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    assert target.exists()


def test_reading_a_file_is_refused_and_named(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("the bytes of a local file")
    with tf.Graph().as_default() as graph:
        tf.placeholder(tf.float32, [None, 784], name="X")
        tf.io.read_file(str(secret), name="Y")
    found = untrusted.reaching_out(graph.as_graph_def())
    assert found == [("Y", "ReadFile", "reads a file")]
    with pytest.raises(untrusted.UntrustedGraphError, match=r"Y \(ReadFile: reads a file\)"):
        predict.run_graph(graph.as_graph_def(), np.zeros((1, 784), np.float32))
    lines = summarize.format_summary(summarize.summarize(graph.as_graph_def()))
    assert "Ops that reach outside the graph (1; " in lines


def test_random_numbers_asserts_and_pure_ops_may_run():
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 784], name="X")
        noise = tf.random_normal(tf.shape(x))
        with tf.control_dependencies([tf.debugging.assert_non_negative(x)]):
            tf.nn.sigmoid(x + noise, name="Y")
    assert untrusted.reaching_out(graph.as_graph_def()) == []


def _cpp_set(name):
    source = (ROOT / "cc" / "load_graph.cc").read_text()
    body = re.search(name + r" = \{(.*?)\};", source, re.S).group(1)
    return frozenset(re.findall(r'"(\w+)"', body))


def test_the_cpp_loader_applies_the_same_lists():
    assert _cpp_set("kHarmlessStateful") == untrusted.HARMLESS_STATEFUL
    assert _cpp_set("kReachesOutside") == untrusted.REACHES_OUTSIDE
