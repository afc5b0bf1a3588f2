"""A whole cluster on this machine: ps and worker processes on free loopback ports.

    from cadl_graph.training import launcher
    launcher.launch(["--model=conv_classifier", "--train_dir=runs/cluster"], workers=2)

Each task is `cadl-graph train` (started as `python -m cadl_graph.commands.train`, so no
checkout is needed) with its `--job_name` and `--task_index`, a process of its own. Their
output is streamed with a `[ps0]`/`[worker1]` prefix. When every worker has finished, the ps
tasks stop themselves (the workers tell them through a queue). If a task exits with an error,
or the deadline passes, every other task is killed and the run fails, naming the task. No
process outlives `launch`.
"""

import socket
import subprocess
import sys
import threading
import time

from cadl_graph.errors import Error

TRAIN = "cadl_graph.commands.train"  # run with `python -m`: no checkout needed
DEADLINE_S = 3600


class ClusterRunError(Error, RuntimeError):
    """A task of the local cluster failed, or the run took longer than its deadline."""


def free_ports(n):
    """`n` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _stream(process, name, out):
    for line in process.stdout:
        out(f"[{name}] {line.rstrip()}")


def launch(train_args, workers=2, ps=1, sync=False, deadline_s=DEADLINE_S, out=print,
        python=sys.executable):
    """Starts the cluster, streams its output, waits for it; returns {task: exit status}.

    Args:
      train_args: `cadl-graph train` flags every task gets (--model, --train_dir, ...).

    Raises:
      ClusterRunError: a task failed (the others are killed) or the deadline passed.
    """
    ports = free_ports(ps + workers)
    ps_hosts = ",".join(f"127.0.0.1:{p}" for p in ports[:ps])
    worker_hosts = ",".join(f"127.0.0.1:{p}" for p in ports[ps:])
    common = [*train_args, f"--ps_hosts={ps_hosts}", f"--worker_hosts={worker_hosts}"] + \
        (["--sync_replicas"] if sync else [])
    tasks = [(f"ps{i}", "ps", i) for i in range(ps)] + \
        [(f"worker{i}", "worker", i) for i in range(workers)]
    processes, threads = {}, []
    try:
        for name, job, index in tasks:
            processes[name] = subprocess.Popen(
                [python, "-m", TRAIN, *common, f"--job_name={job}", f"--task_index={index}"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
            threads.append(threading.Thread(target=_stream, args=(processes[name], name, out),
                                            daemon=True))
            threads[-1].start()
        return _wait(processes, deadline_s)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()
        for thread in threads:
            thread.join(timeout=5)


def _wait(processes, deadline_s):
    end = time.monotonic() + deadline_s
    while True:
        statuses = {name: p.poll() for name, p in processes.items()}
        failed = [name for name, status in statuses.items() if status not in (None, 0)]
        if failed:
            raise ClusterRunError(f"task {failed[0]} exited with status {statuses[failed[0]]}; "
                                  "stopped the others (its output above says why)")
        if all(status == 0 for status in statuses.values()):
            return statuses
        if time.monotonic() > end:
            running = [name for name, status in statuses.items() if status is None]
            raise ClusterRunError(f"the cluster did not finish within {deadline_s:.0f} s; "
                                  f"stopped {', '.join(running)}")
        time.sleep(0.2)
