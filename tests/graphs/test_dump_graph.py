import subprocess
import sys
from pathlib import Path

from cadl_graph.golden import listing

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dump_graph.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False)


def test_prints_the_golden_lines():
    done = _run("--model=linear_classifier")
    assert done.returncode == 0, done.stderr
    expected = listing.parse(listing.golden_path("linear_classifier").read_text())
    assert done.stdout.splitlines() == expected


def test_golden_format_reproduces_the_file_and_pbtxt_is_a_graphdef():
    done = _run("--model=conv_autoencoder", "--format=golden")
    assert done.stdout == listing.golden_path("conv_autoencoder").read_text()
    pbtxt = _run("--model=conv_autoencoder", "--format=pbtxt").stdout
    assert 'name: "decoder/layer/2/conv2d_transpose"' in pbtxt and "versions {" in pbtxt


def test_steps_per_run_prints_the_training_graph_its_golden_pins():
    done = _run("--model=linear_classifier", "--steps_per_run=10")
    assert done.returncode == 0, done.stderr
    expected = listing.parse(listing.golden_path("linear_classifier",
                                                 "steps_per_run.ops").read_text())
    assert done.stdout.splitlines() == expected


def test_bad_flags_are_usage_errors():
    missing = _run()
    assert missing.returncode != 0 and "--model" in missing.stderr
    unknown = _run("--model=resnet")
    assert unknown.returncode != 0 and "fc_autoencoder" in unknown.stderr
    assert _run("--model=vae", "extra").returncode != 0
