"""The package installs as a wheel and works without a checkout: goldens ship inside it."""

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
    modules = {f"cadl_graph/{p.name}" for p in (ROOT / "cadl_graph").glob("*.py")}
    assert modules <= names
    assert not any(n.startswith(("tests/", "scripts/", "golden/")) for n in names)


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
    assert "pytest --update-goldens" in first.stdout
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
