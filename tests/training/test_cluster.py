"""Training across processes on loopback: async and sync, placement, resume, a dying worker."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.export import freeze
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints, cluster, launcher, rundir
from cadl_graph.training.scoring import evaluate
from cadl_graph.training.session import load_dataset

MODEL = "linear_classifier"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _train_processes(folder):
    """PIDs of training processes still running for `folder` (should be none)."""
    done = subprocess.run(["pgrep", "-f", f"train_dir={folder}"], capture_output=True,
                          text=True, check=False)
    return done.stdout.split()


def _run(folder, max_steps, sync=False, workers=2, pictures=False):
    lines = []
    statuses = launcher.launch([f"--model={MODEL}", f"--train_dir={folder}",
                             f"--max_steps={max_steps}", f"--{'' if pictures else 'no'}pictures",
                             "--save_every_steps=50"], workers=workers, sync=sync,
                            deadline_s=180, out=lines.append)
    assert _train_processes(folder) == []
    return statuses, "\n".join(lines)


@pytest.fixture(scope="module")
def async_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster") / "async"
    statuses, log = _run(folder, 120, pictures=True)
    return folder, statuses, log


def test_an_async_run_reaches_its_step_target_and_checkpoints(async_run):
    folder, statuses, log = async_run
    assert statuses == {"ps0": 0, "worker0": 0, "worker1": 0}
    # Async workers may overshoot the target by up to workers - 1 steps.
    steps = [int(line.split("global step ")[1].split(",")[0]) for line in log.splitlines()
             if "done at global step" in line]
    assert len(steps) == 2 and all(120 <= s <= 121 for s in steps), log
    assert "[worker0] linear_classifier: test accuracy 0." in log
    prefix = checkpoints.latest(folder)
    assert int(tf.train.load_checkpoint(prefix).get_tensor("global_step")) >= 120
    run = json.loads((folder / "run.json").read_text())
    assert run["cluster"]["sync"] is False and len(run["cluster"]["workers"]) == 2
    assert (folder / "pictures" / "layer1_W.png").is_file()  # the chief draws


def test_the_chiefs_checkpoint_restores_single_process_and_exports(async_run, tmp_path):
    folder, _, _ = async_run
    ds = load_dataset(MODEL, seed=0)
    saved = rundir.open_run(folder)
    with saved.restore() as (sess, feeder):
        accuracy = evaluate(sess, feeder, ds.test)
    assert accuracy > 0.5 and saved.model == MODEL
    signature = freeze.export(folder, tmp_path / "cluster.pb")
    assert signature["step"] >= 120 and signature["outputs"][0]["name"] == "Y"


def test_a_second_run_resumes_the_global_step(async_run):
    folder, _, _ = async_run
    _, log = _run(folder, 200)
    starts = [int(line.split("global step ")[1].split("/")[0]) for line in log.splitlines()
              if "worker 0: starting at global step" in line]
    assert starts and starts[0] >= 120, log
    assert int(tf.train.load_checkpoint(checkpoints.latest(folder)).get_tensor(
        "global_step")) >= 200


def test_a_sync_run_from_the_script_reaches_its_step_target(tmp_path):
    # scripts/local_cluster.py passes the train.py flags it does not define to every task.
    folder = tmp_path / "sync"
    done = subprocess.run([sys.executable, str(SCRIPTS / "local_cluster.py"), f"--model={MODEL}",
                           f"--train_dir={folder}", "--sync_replicas", "--deadline=180",
                           "--max_steps=60", "--nopictures", "--save_every_steps=50"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "[worker0] worker 0: done at global step 60," in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert _train_processes(folder) == []


def test_variables_live_on_the_ps_and_compute_on_the_worker():
    graph, model = cluster.placed_graph(MODEL, workers=2, task=1)
    variables = [op for op in graph.get_operations() if op.type == "VariableV2"]
    assert variables and all(op.device == "/job:ps/task:0" for op in variables)
    assert model.y.op.device == "/job:worker/task:1"
    # The model's own ops are the registry graph's, in the same order.
    names = [op.name for op in graph.get_operations()]
    single = [op.name for op in registry.build_in_new_graph(MODEL).graph.get_operations()]
    assert names[:len(single)] == single


def test_a_worker_that_dies_stops_the_run_with_its_name(tmp_path):
    folder = tmp_path / "dies"
    lines, errors = [], []

    def run():
        try:
            launcher.launch([f"--model={MODEL}", f"--train_dir={folder}", "--max_steps=100000",
                          "--nopictures"], workers=2, deadline_s=180, out=lines.append)
        except launcher.ClusterRunError as e:
            errors.append(str(e))
    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 120
    while time.time() < deadline and not any("worker 1: starting" in l for l in lines):
        time.sleep(0.2)
    subprocess.run(["pkill", "-9", "-f", f"train_dir={folder} .*--task_index=1"], check=False)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert errors and errors[0].startswith("task worker1 exited with status -9"), (errors, lines)
    assert _train_processes(folder) == []


def test_a_cluster_past_its_deadline_shows_where_each_task_was_then_stops(tmp_path):
    folder, lines = tmp_path / "late", []
    with pytest.raises(launcher.ClusterRunError, match="did not finish within 45 s; stopped "
                       "ps0, worker0 \\(their Python stacks are above\\)"):
        launcher.launch([f"--model={MODEL}", f"--train_dir={folder}", "--epochs=100",
                         "--nopictures"], workers=1, deadline_s=45, out=lines.append)
    log = "\n".join(lines)
    for task in ("ps0", "worker0"):
        assert f"[launcher] {task} is still running; its stacks:" in log
        assert re.search(rf"\[{task}\] (Current thread|Thread) 0x", log), log[-3000:]
    assert _train_processes(folder) == []


@pytest.mark.parametrize("args, message", [
    (["--ps_hosts=localhost:1", "--worker_hosts=nohost", "--job_name=worker"],
     "'nohost' is not host:port"),
    (["--ps_hosts=localhost:1", "--worker_hosts=localhost:2", "--job_name=worker",
      "--task_index=3"], "--task_index=3: the worker job has 1 task(s)"),
    (["--worker_hosts=localhost:2", "--job_name=worker"], "needs at least one ps"),
])
def test_bad_cluster_flags_give_one_line(args, message, tmp_path):
    done = subprocess.run([sys.executable, "-m", launcher.TRAIN, f"--model={MODEL}",
                           f"--train_dir={tmp_path}", *args], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_tf_config_describes_a_task():
    config = {"cluster": {"ps": ["h0:1"], "worker": ["h1:1", "h2:1"]},
              "task": {"type": "worker", "index": 1}}
    import os
    old = os.environ.get("TF_CONFIG")
    os.environ["TF_CONFIG"] = json.dumps(config)
    try:
        task = cluster.Cluster.from_tf_config()
    finally:
        os.environ.pop("TF_CONFIG") if old is None else os.environ.update(TF_CONFIG=old)
    assert (task.ps, task.workers, task.job, task.task) == (("h0:1",), ("h1:1", "h2:1"),
                                                             "worker", 1)
    assert not task.chief


def _start_script_cluster(folder, *args):
    """scripts/local_cluster.py in the background, once both workers train (their "starting
    at global step" lines): (process, the output lines read so far)."""
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "local_cluster.py"),
                             f"--model={MODEL}", f"--train_dir={folder}", "--workers=2",
                             "--nopictures", "--deadline=300", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, waiting = [], {"[worker0] worker 0: starting", "[worker1] worker 1: starting"}
    while waiting:
        line = proc.stdout.readline()
        if not line:  # it ended: the test's assertions say how
            break
        lines.append(line)
        waiting = {w for w in waiting if not line.startswith(w)}
    time.sleep(2)  # the workers step by now
    return proc, lines


@pytest.fixture(scope="module")
def stopped_cluster(tmp_path_factory):
    """A local cluster stopped by SIGINT mid-run, after another trainer tried its folder."""
    folder = tmp_path_factory.mktemp("stopped") / "run"
    proc, lines = _start_script_cluster(folder, "--save_every_steps=100000", "--epochs=100")
    port = int(re.search(r"serving at 127\.0\.0\.1:(\d+)", lines[0]).group(1))
    reached = {}  # address: what connecting to the ps port from this namespace did
    for host in [*_this_machines_addresses(), "127.0.0.1"]:
        try:
            socket.create_connection((host, port), timeout=5).close()
            reached[host] = "connected"
        except OSError as e:
            reached[host] = type(e).__name__
    second = subprocess.run([sys.executable, str(SCRIPTS / "train.py"), f"--model={MODEL}",
                             f"--train_dir={folder}", "--nopictures"],
                            capture_output=True, text=True, check=False)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    return folder, proc.returncode, "".join(lines) + out, err, second, reached


def test_the_chief_holds_the_folders_lock(stopped_cluster):
    _, _, _, _, second, _ = stopped_cluster
    assert second.returncode == 1 and "is in use by another training process (PID" in \
        second.stderr, second.stderr[-2000:]


def test_sigint_to_the_launcher_stops_every_task_after_the_chief_saves(stopped_cluster):
    folder, status, out, err, _, _ = stopped_cluster
    assert status == 130, (out[-6000:], err[-2000:])
    assert "the cluster stopped on SIGINT: the workers finished their step and the chief " \
        "saved it; run the same command to resume" in err
    assert "Traceback" not in out + err
    saved = re.search(r"the chief saved model\.ckpt-(\d+)", out)
    assert saved and int(saved.group(1)) > 0, out[-3000:]
    step, prefix = checkpoints.on_disk(folder)[-1]
    assert step == int(saved.group(1))
    # The other worker stopped before the chief saved: the file holds the step it is named for.
    assert tf.train.load_checkpoint(prefix).get_tensor("global_step") == step
    assert _train_processes(folder) == []


def test_sigint_while_the_workers_start_stops_the_cluster_at_once(tmp_path):
    # The ps serves from its first line on; the workers are still loading data and building
    # their graphs then, so the signal ends them before they train: the ps must not be left
    # waiting for them to say they are done.
    folder = tmp_path / "early"
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "local_cluster.py"),
                             f"--model={MODEL}", f"--train_dir={folder}", "--workers=2",
                             "--nopictures", "--deadline=300", "--epochs=100"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "serving at" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, (out[-2000:], err[-2000:])
    assert "the cluster stopped on SIGINT: " in err and "Traceback" not in out + err
    assert _train_processes(folder) == []


def test_a_cluster_resumes_past_a_damaged_state_file_as_one_process_does(stopped_cluster):
    folder, _, out, _, _, _ = stopped_cluster
    newest = checkpoints.on_disk(folder)[-1][0]
    (folder / checkpoints.STATE_FILE).write_text("garbage {")
    done = subprocess.run([sys.executable, str(SCRIPTS / "local_cluster.py"), f"--model={MODEL}",
                           f"--train_dir={folder}", "--workers=1", "--nopictures",
                           f"--max_steps={newest + 20}", "--deadline=180"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "checkpoint state file" in done.stdout and "is damaged" in done.stdout
    assert f"worker 0: starting at global step {newest}/" in done.stdout


def test_a_killed_launcher_takes_every_task_with_it(tmp_path):
    folder = tmp_path / "killed"
    proc, _ = _start_script_cluster(folder, "--epochs=100")
    assert _train_processes(folder)
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while _train_processes(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _train_processes(folder) == []


def _this_machines_addresses():
    """Its IPv4 addresses other than loopback (`hostname -I`, else the outbound one)."""
    done = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    found = [a for a in done.stdout.split() if "." in a and not a.startswith("127.")]
    if not found:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect(("192.0.2.1", 9))  # UDP: picks a route, sends nothing
                found = [s.getsockname()[0]]
            except OSError:
                pass
    return found


def test_no_task_of_the_local_cluster_accepts_a_connection_from_outside(stopped_cluster):
    # From the machine's own non-loopback addresses and from its loopback, which is not the
    # tasks' loopback: they run in a network namespace of their own.
    reached = stopped_cluster[-1]
    assert "127.0.0.1" in reached and set(reached.values()) == {"ConnectionRefusedError"}, reached


def test_without_a_private_network_the_command_says_so_before_it_starts(tmp_path):
    folder = tmp_path / "exposed"
    done = subprocess.run([sys.executable, str(SCRIPTS / "local_cluster.py"), f"--model={MODEL}",
                           f"--train_dir={folder}", "--workers=1", "--max_steps=10",
                           "--nopictures", "--deadline=180"], capture_output=True, text=True,
                          check=False, env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "listen on every network interface of this machine, unauthenticated (the unshare " \
        "program (util-linux) is not installed)" in done.stderr


def test_a_diverging_cluster_run_stops_and_saves_nothing_non_finite(tmp_path):
    folder = tmp_path / "diverged"
    done = subprocess.run([sys.executable, str(SCRIPTS / "local_cluster.py"), f"--model={MODEL}",
                           f"--train_dir={folder}", "--workers=1", "--nopictures",
                           "--learning_rate=1e37", "--save_every_steps=1", "--max_steps=50",
                           "--deadline=180"], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "task worker0 exited with status 1" in done.stderr
    assert "training diverged by step" in done.stdout and "is finite and kept" in done.stdout
    for _, prefix in checkpoints.on_disk(folder):
        reader = tf.train.load_checkpoint(prefix)
        assert all(np.all(np.isfinite(reader.get_tensor(name)))
                   for name in reader.get_variable_to_shape_map()), prefix
    assert _train_processes(folder) == []
