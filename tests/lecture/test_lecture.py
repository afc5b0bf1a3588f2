"""The main job's script, run as a user runs it."""

import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.teach import renames

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "lecture.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False)


def test_quick_lecture_runs_every_step_end_to_end(tmp_path):
    done = _run("--quick", f"--out_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("(70000, 784)\n")
    for name in ("fc_autoencoder", "conv_autoencoder", "denoising_autoencoder", "vae",
                 "conv_vae", "linear_classifier", "conv_classifier"):
        assert f"== {name} " in out and f"{name}: test " in out
    lecture = renames.lecture_names()
    ours = [op.name for op in registry.build_in_new_graph("lecture_sequence").graph
            .get_operations()]
    line = renames.coverage_line(renames.explain(lecture, ours))
    assert line in out and line.endswith(", 0 unexplained")
    assert "layer1/W:0 has shape (784, 10)" in out
    assert "Model restored from" in out
    expected = {"montage.png": (32 * 29 + 1,) * 2, "mean.png": (224, 224),
                "std.png": (224, 224), "first_image.png": (224, 224)}
    for name, size in expected.items():
        with Image.open(tmp_path / name) as png:
            assert png.size == size, name
    report = (tmp_path / "REPORT.md").read_text()
    assert "QUICK" in report and "## conv_classifier (In[54]-[65])" in report
    assert "| 0 | 0.946571 |" in report  # the lecture's first conv classifier epoch
    for picture in ("vae/pictures/manifold.png", "conv_classifier/pictures/W_1.png",
                    "linear_classifier/pictures/layer1_W.png",
                    "fc_autoencoder/pictures/reconstruction.gif"):
        assert (tmp_path / picture).is_file(), picture
    assert report.count("Trained graph: the course's batch norm") == 3  # the VAE family
    assert "Target: held-out test cost <= 0.025" in report  # the conv autoencoder
    # The frozen .pb and the SavedModel of one checkpoint score alike.
    frozen = re.search(r"re-imported in Python: test accuracy \*\*([0-9.]+)\*\*", report)
    saved = re.search(r"as a SavedModel .*: Python ([0-9.]+), C\+\+ ([0-9.]+|skipped)\.", report)
    assert frozen and saved and frozen.group(1) == saved.group(1), report
    assert saved.group(2) in ("skipped", frozen.group(1)), report
    # A second run resumes every model from its final checkpoint and reports the same numbers:
    # scores come from a fresh inference graph with a fixed seed, even the VAEs' sampled costs.
    again = _run("--quick", f"--out_dir={tmp_path}")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("resuming ") == 7
    # TensorBoard: one folder per model, holding its graph once although the model resumed.
    for name in ("fc_autoencoder", "conv_autoencoder", "denoising_autoencoder", "vae",
                 "conv_vae", "linear_classifier", "conv_classifier"):
        files = sorted((tmp_path / "tensorboard" / name).glob("events.out.tfevents.*"))
        graphs = sum(bool(event.graph_def) for path in files
                     for event in tf.train.summary_iterator(str(path)))
        assert len(files) == 2 and graphs == 1, name

    def numbers(text):  # every figure but the timings
        head, _, tail = text.partition("## Where the time went")
        text = head + tail[tail.find("\n## "):] if tail else head
        return [line for line in text.split("\n")
                if line.startswith(("| ", "Held-out", "Restored", "Target"))]
    assert "## Where the time went" in report
    assert numbers((tmp_path / "REPORT.md").read_text()) == numbers(report)


def test_lecture_rejects_surplus_arguments_and_bad_flags(tmp_path):
    surplus = _run(f"--out_dir={tmp_path}", "extra")
    assert surplus.returncode != 0 and "unexpected arguments: extra" in surplus.stderr
    bad = _run("--seed=-1")
    assert bad.returncode != 0 and "seed" in bad.stderr
