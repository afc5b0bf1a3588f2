"""A flag that would be ignored in a combination is refused with one line naming it."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.mark.parametrize("script, args, message", [
    ("train.py", ["--model=vae", "--sync_replicas"], "--sync_replicas averages the gradients"),
    ("train.py", ["--model=vae", "--task_index=1"], "--task_index applies only with --job_name"),
    ("dump_graph.py", ["--model=linear_classifier", "--sync_replicas"],
     "--sync_replicas builds a cluster's graph; give --cluster_workers"),
    ("dump_graph.py", ["--model=linear_classifier", "--steps_per_run=10",
                       "--cluster_workers=2"], "--steps_per_run builds a single process's"),
    ("dump_graph.py", ["--model=linear_classifier", "--variant=bn_in_cond"],
     "variant bn_in_cond does not apply to linear_classifier"),
    ("explain_graph.py", ["--variant=bn_in_cond", "--checkpoint=/x"],
     "--variant with --checkpoint: the run's own hyperparameters decide its graph"),
    ("explain_graph.py", ["--lecture_cells", "--model=vae"],
     "--lecture_cells prints one fixed page; drop --model"),
    ("summarize_graph.py", ["--graph=/x.pb", "--rows=5"], "--rows applies only with --images"),
])
def test_an_ignored_flag_is_refused(script, args, message):
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True,
                          text=True, check=False)
    assert done.returncode != 0 and message in done.stderr, done.stderr[-1000:]
    assert "Traceback" not in done.stderr


def test_dump_graph_places_a_variant_on_a_cluster():
    done = subprocess.run([sys.executable, str(SCRIPTS / "dump_graph.py"), "--model=vae",
                           "--variant=bn_in_cond", "--cluster_workers=2", "--format=devices"],
                          capture_output=True, text=True, check=True)
    devices = dict(line.split("\t") for line in done.stdout.splitlines())
    # The repaired batch norm (its update inside the cond), its averages on the ps.
    assert "encoder/0/bn0/cond/ExponentialMovingAverage/AssignMovingAvg/sub/x" in devices
    average = "encoder/0/bn0/encoder/0/bn0/moments/Squeeze/ExponentialMovingAverage"
    assert devices[average] == "/job:ps/task:0"


@pytest.mark.parametrize("args, status", [
    (["--help"], 0), (["-?"], 0), (["--helpfull"], 0), (["--model=vae", "--helpshort"], 0),
    (["--nosuch_flag"], 1), (["-h"], 1),  # absl knows no -h: a usage error, not help
])
def test_help_is_a_success_and_a_bad_flag_is_not(args, status):
    done = subprocess.run([sys.executable, str(SCRIPTS / "export_graph.py"), *args],
                          capture_output=True, text=True, check=False)
    assert done.returncode == status, (done.stdout[-500:], done.stderr[-500:])
    assert ("--checkpoint" in done.stdout) == (status == 0)


def test_only_a_help_flag_before_the_double_dash_asks_for_help():
    from cadl_graph import cli

    assert cli.asked_for_help(["--model=vae", "-?"])
    assert not cli.asked_for_help(["--model=vae", "--", "--help"])
    assert not cli.asked_for_help(["help", "--helpme"])
