"""make bench's script, quick: every implementation runs, learns, and lands in RESULTS.md."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cadl_graph.bench import benchmark

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"


def test_quick_benchmark_measures_every_implementation(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", f"--out_dir={tmp_path}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = (tmp_path / "RESULTS.md").read_text()
    assert "## linear_classifier" in results and "float32 matmul" in results
    rows = {line.split(" | ")[0].lstrip("| "): line for line in results.splitlines()
            if line.startswith("| ") and "---" not in line}
    trainers = ("project", "project_k10", "bare", "keras_fit", "keras_fit_k10", "keras_step",
                "keras_xla")
    for impl in (*trainers, "project_k100", "export_py", "export_cpp"):
        assert impl in rows and "failed" not in rows[impl], (impl, results)
    for impl in trainers:
        assert rows[impl].rstrip(" |").endswith("yes"), rows[impl]  # the held-out metric rose
    assert "Best peer: " in results and "The project's best: project" in results
    # The summary, in RESULTS.md and at the end of the output: K=1 over bare, best over peer.
    summary = "## The project against the bare loop and the tuned peers"
    assert summary in results and summary in done.stdout
    row = done.stdout.split(summary)[1].split("| linear_classifier | ")[1].splitlines()[0]
    assert re.fullmatch(r"\d+\.\d\dx \| \w+ [\d,]+ \| project\w* \(steps_per_run=\d+.*\) "
                        r"[\d,]+ \| \*\*\d+\.\d\dx\*\* \|", row), row
    assert (tmp_path / "results.json").is_file()
    assert "## Exports: the C++ loader beside Python" in results
    assert "linear_classifier" in rows and rows["linear_classifier"].rstrip(" |").endswith(")")


def test_forward_flops_count_the_lecture_models():
    # softmax(x W + b): one 784 x 10 product per image.
    assert benchmark.forward_flops("linear_classifier") == 2 * 784 * 10
    # Two 5x5 stride-2 convolutions (14x14x32, 7x7x64), then 3136 -> 128 -> 10.
    assert benchmark.forward_flops("conv_classifier") == 2 * (
        14 * 14 * 25 * 32 + 7 * 7 * 25 * 32 * 64 + 3136 * 128 + 128 * 10)


def test_a_failing_measurement_of_this_projects_code_is_an_error_not_a_row(tmp_path):
    with pytest.raises(benchmark.BenchmarkError, match=r"bare on linear_classifier failed"):
        benchmark._spawn("bare", "linear_classifier", tmp_path / "missing.npz", 5, None, None,
                         None)
