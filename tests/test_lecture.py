"""The main job's script, run as a user runs it."""

import subprocess
import sys
from pathlib import Path

from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lecture.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False)


def test_lecture_prints_the_shape_and_writes_the_pictures(tmp_path):
    done = _run(f"--out_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert "(70000, 784)" in done.stdout
    expected = {"montage.png": (32 * 29 + 1,) * 2, "mean.png": (224, 224),
                "std.png": (224, 224), "first_image.png": (224, 224)}
    for name, size in expected.items():
        with Image.open(tmp_path / name) as png:
            assert png.size == size, name


def test_lecture_rejects_surplus_arguments_and_bad_flags(tmp_path):
    surplus = _run(f"--out_dir={tmp_path}", "extra")
    assert surplus.returncode != 0 and "unexpected arguments: extra" in surplus.stderr
    bad = _run("--seed=-1")
    assert bad.returncode != 0 and "seed" in bad.stderr
