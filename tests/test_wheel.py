"""The package installs as a wheel and works without a checkout: goldens ship inside it."""

import concurrent.futures
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the venv's setuptools builds it, offline.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(ROOT)], check=True,
                   capture_output=True)
    (path,) = out.glob("cadl_graph-*.whl")
    return path


def test_the_wheel_holds_the_package_and_every_golden(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    goldens = {f"cadl_graph/golden_files/{p.relative_to(ROOT / 'golden')}"
               for p in (ROOT / "golden").rglob("*.txt")}
    assert goldens and goldens <= names
    assert "cadl_graph/cc_files/load_graph.cc" in names
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "cadl-graph = cadl_graph.commands:main" in entry_points
    modules = {f"cadl_graph/{p.name}" for p in (ROOT / "cadl_graph").glob("*.py")}
    assert modules <= names
    assert not any(n.startswith(("tests/", "scripts/", "golden/", "cc/")) for n in names)


def test_an_installed_wheel_builds_a_graph_that_matches_its_shipped_golden(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    f"--target={target}", str(wheel)], check=True, capture_output=True)
    code = """
import cadl_graph
from cadl_graph.golden import listing
from cadl_graph.graphs import registry
assert cadl_graph.__file__.startswith(%r), cadl_graph.__file__
model = registry.build_in_new_graph("conv_autoencoder")
assert listing.compare(listing.golden_path("conv_autoencoder"), listing.op_lines(model.graph)) is None
print(listing.GOLDEN_DIR)
""" % str(target)
    # -S: no .pth files, so the checkout's editable install cannot shadow the wheel; the
    # venv's site-packages still provide TensorFlow.
    path = f"{target}:{sysconfig.get_paths()['purelib']}"
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, text=True,
                          capture_output=True, env={"PYTHONPATH": path}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == str(target / "cadl_graph" / "golden_files")


USER_TEST = '''
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()

EPSILON = {epsilon}


def build():
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    w = tf.get_variable("dense/w", [4, 2], initializer=tf.zeros_initializer())
    y = tf.nn.softmax(tf.matmul(x, w), name="y")
    cost = -tf.reduce_sum(tf.log(y + EPSILON))
    tf.train.GradientDescentOptimizer(0.1).minimize(cost)


def test_my_graph(graph_golden):
    with tf.Graph().as_default() as graph:
        build()
    graph_golden.check(graph, "goldens/my_model.ops.txt")
'''


def test_the_pytest_fixture_pins_a_users_graph_from_an_installed_package(wheel, tmp_path):
    """A project that is not this one: pip-installed cadl_graph, a test using graph_golden."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    f"--target={target}", str(wheel)], check=True, capture_output=True)
    project = tmp_path / "project"
    project.mkdir()
    test_file = project / "test_mine.py"
    env = {"PYTHONPATH": f"{target}:{sysconfig.get_paths()['purelib']}"}

    def pytest_run(*args, epsilon="1e-12"):
        test_file.write_text(USER_TEST.format(epsilon=epsilon))
        return subprocess.run([sys.executable, "-S", "-m", "pytest", "-q", "-p",
                               "no:cacheprovider", *args], cwd=project, env=env, text=True,
                              capture_output=True, check=False)

    first = pytest_run()
    assert first.returncode == 1 and "goldens/my_model.ops.txt is missing" in first.stdout
    assert "pytest test_mine.py::test_my_graph --update-goldens" in first.stdout
    created = pytest_run("--update-goldens")
    assert created.returncode == 0
    assert f"golden created: {project / 'goldens' / 'my_model.ops.txt'}" in created.stdout
    assert "Goldens written: 1 created, 0 changed, 0 unchanged." in created.stdout
    written = (project / "goldens" / "my_model.ops.txt").read_text()
    assert written.startswith("# cadl_graph golden op listing, format 2")
    assert "\nadd/y\tConst\t[]\t-\tdtype=float32\tvalue=1e-12\n" in written
    assert pytest_run().returncode == 0
    changed = pytest_run(epsilon="1e-10")
    assert changed.returncode == 1
    assert "~ add/y: value 1e-12 -> 1e-10" in changed.stdout, changed.stdout
    rewritten = pytest_run("--update-goldens", epsilon="1e-10")
    assert "Goldens written: 0 created, 1 changed, 0 unchanged." in rewritten.stdout


# --- a user's own environment: their TensorFlow kept, every command from an empty folder ------

USERS_TENSORFLOW = "tensorflow==2.21.0"  # the CUDA build; it installs and imports without a GPU


def _venv(folder):
    """A fresh virtualenv at `folder`; returns (its python, a function running commands)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"

    def run(*args, cwd=None, check=True):
        done = subprocess.run([str(a) for a in args], cwd=cwd, text=True, capture_output=True,
                              check=False, env={**os.environ, "PATH": f"{folder / 'bin'}:"
                                                f"{os.environ['PATH']}", "PYTHONPATH": ""})
        if check:
            assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
        return done

    return python, run


def _pip_install(run, python, *what):
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *what)


@pytest.fixture(scope="module")
def users_venv(wheel, tmp_path_factory):
    """A virtualenv that already held the full `tensorflow` wheel, then got ours (and pytest)."""
    python, run = _venv(tmp_path_factory.mktemp("users") / "venv")
    _pip_install(run, python, USERS_TENSORFLOW)
    _pip_install(run, python, f"{wheel}[test]")
    return python, run


def test_installing_the_wheel_keeps_the_users_cuda_tensorflow(users_venv):
    python, run = users_venv
    installed = run(python, "-m", "pip", "list", "--format=freeze").stdout
    assert "tensorflow==2.21.0" in installed.splitlines()
    assert "tensorflow-cpu" not in installed
    assert run(python, "-m", "pip", "check").returncode == 0
    built = run(python, "-c", "import tensorflow as tf; print(tf.test.is_built_with_cuda())")
    assert built.stdout.strip() == "True"


def test_every_command_runs_from_an_empty_folder_of_an_installed_wheel(users_venv, tmp_path):
    from cadl_graph import commands

    python, run = users_venv
    listed = run("cadl-graph", "--help", cwd=tmp_path).stdout
    assert all(f"  {name} " in listed for name in commands.NAMES)
    # Side by side: each one starts TensorFlow.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        helps = pool.map(lambda name: run("cadl-graph", name, "--help", cwd=tmp_path,
                                          check=False), commands.NAMES)
        for name, helped in zip(commands.NAMES, helps):
            # The command's own docstring and its own flags, under the name it was run as,
            # and exit status 0 (absl's own is 1).
            assert helped.returncode == 0 and f"cadl-graph {name}:\n" in helped.stdout, (
                name, helped.stdout[-1500:], helped.stderr[-1500:])
    assert run("cadl-graph", "nosuch", cwd=tmp_path, check=False).returncode == 2

    def cadl(*args):
        return run("cadl-graph", *args, cwd=tmp_path).stdout

    mnist = dict(line.split("\t") for line in cadl("fetch_mnist").splitlines())
    cadl("train", "--model=linear_classifier", "--max_steps=30", "--train_dir=run",
         "--nopictures")
    assert (tmp_path / "run" / "model.ckpt.meta").is_file()
    assert "the same graph" in cadl("diff_graph", "run", "linear_classifier", "--ignore=save",
                                    "--ignore=global_step", "--ignore=init_1")
    assert "wrote lin.pb" in cadl("export_graph", "--checkpoint=run", "--output=lin.pb")
    same = cadl("diff_graph", "lin.pb", "linear_classifier.frozen.ops.txt")
    assert "the same graph (trained constants layer1/W, layer1/b" in same
    assert "frozen export: 9 ops" in cadl("explain_graph", "--checkpoint=run", "--frozen")
    assert "X" in cadl("summarize_graph", "--graph=lin.pb")
    # C++: the loader's source ships in the wheel and builds against the user's TensorFlow.
    assert cadl("build_loader", "--output=load_graph").strip() == "load_graph"
    scored = run(tmp_path / "load_graph", "--graph=lin.pb", "--limit=500",
                 f"--images={mnist['t10k-images-idx3-ubyte']}",
                 f"--labels={mnist['t10k-labels-idx1-ubyte']}", cwd=tmp_path).stdout
    assert "accuracy" in scored and "of 500" in scored
    assert "\tConst\t" in cadl("dump_graph", "--model=vae")
    clustered = cadl("local_cluster", "--model=linear_classifier", "--workers=1",
                     "--train_dir=cluster", "--max_steps=20", "--nopictures")
    assert "[worker0]" in clustered and (tmp_path / "cluster" / "model.ckpt.meta").is_file()
    # The same through `python -m`, which the cluster launcher and the benchmark use.
    assert "Registry model" in run(python, "-m", "cadl_graph.commands.train", "--help",
                                   cwd=tmp_path, check=False).stdout


def test_the_users_own_golden_round_trip_in_the_installed_wheel(users_venv, tmp_path):
    python, run = users_venv
    (tmp_path / "test_mine.py").write_text(USER_TEST.format(epsilon="1e-12"))
    pytest_cmd = (python, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert "1 created" in run(*pytest_cmd, "--update-goldens", cwd=tmp_path).stdout
    run(*pytest_cmd, cwd=tmp_path)


def test_without_tensorflow_a_command_says_how_to_choose_in_one_line(wheel, tmp_path):
    python, run = _venv(tmp_path / "venv")
    _pip_install(run, python, str(wheel))
    done = run("cadl-graph", "dump_graph", "--model=vae", cwd=tmp_path, check=False)
    assert done.returncode == 1 and done.stdout == "", done.stderr[-2000:]
    (line,) = done.stderr.splitlines()
    assert "needs TensorFlow" in line and "pip install 'cadl_graph[cpu]'" in line
    # Reading MNIST needs no TensorFlow.
    assert "train-images-idx3-ubyte" in run("cadl-graph", "fetch_mnist", cwd=tmp_path).stdout
