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
from cadl_graph import golden, registry
assert cadl_graph.__file__.startswith(%r), cadl_graph.__file__
model = registry.build_in_new_graph("conv_autoencoder")
assert golden.compare(golden.golden_path("conv_autoencoder"), golden.op_lines(model.graph)) is None
print(golden.GOLDEN_DIR)
""" % str(target)
    # -S: no .pth files, so the checkout's editable install cannot shadow the wheel; the
    # venv's site-packages still provide TensorFlow.
    path = f"{target}:{sysconfig.get_paths()['purelib']}"
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, text=True,
                          capture_output=True, env={"PYTHONPATH": path}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == str(target / "cadl_graph" / "golden_files")
