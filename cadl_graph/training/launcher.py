"""A whole cluster on this machine: ps and worker processes on free loopback ports.

    from cadl_graph.training import launcher
    launcher.launch(["--model=conv_classifier", "--train_dir=runs/cluster"], workers=2)

Each task is `cadl-graph train` (started as `python -m cadl_graph.commands.train`, so no
checkout is needed) with its `--job_name` and `--task_index`, a process of its own. Their
output is streamed with a `[ps0]`/`[worker1]` prefix. When every worker has finished, the ps
tasks stop themselves (the workers tell them through a queue). If a task exits with an error,
or the deadline passes, every other task is killed and the run fails, naming the task.

The cluster stays on the machine when the command runs it in a network namespace of its own
(`private_network`, which `cadl-graph local_cluster` calls first): TensorFlow's gRPC servers
listen on every interface and ask no one for credentials, so without it any host that can
reach this one could run ops on the tasks (read files, for one). Inside, only a loopback
interface exists, so nothing outside can connect and nothing inside can reach the network.

No process outlives `launch`: SIGINT or SIGTERM to the launcher is passed to the workers as
SIGTERM (they stop after their current step, the chief's hook saves the step reached, the ps
tasks then stop themselves; a worker still starting up ends at once, and once every worker
has exited the launcher stops the ps tasks), and `launch` raises `errors.Stopped`; the tasks
run in a session of their own, so a terminal's Ctrl-C reaches the launcher only (a ps stopped
first would take the variables with it). If the launcher itself is killed (SIGKILL), the
kernel kills every task with it (each asks for PR_SET_PDEATHSIG as it starts:
`die_with_launcher`).
"""

import ctypes
import faulthandler
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from cadl_graph.errors import Error, Stopped
from cadl_graph.training import session

TRAIN = "cadl_graph.commands.train"  # run with `python -m`: no checkout needed
DEADLINE_S = 3600
STOP_GRACE_S = 120  # for the workers to finish their step and the chief to save
STACK_SIGNAL = signal.SIGUSR1  # asks a task for its Python stacks (show_stack_on_request)
STACK_WAIT_S = 2
_PR_SET_PDEATHSIG = 1
LAUNCHER_ENV = "CADL_GRAPH_LAUNCHER_PID"
PRIVATE_NETWORK_ENV = "CADL_GRAPH_PRIVATE_NETWORK"
# Linux's interface-flag requests (<linux/sockios.h>, <net/if.h>).
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


class ClusterRunError(Error, RuntimeError):
    """A task of the local cluster failed, or the run took longer than its deadline."""


def private_network():
    """Puts this command in a network namespace of its own, with loopback only, before it
    starts any task: it re-executes the same command line under `unshare --net
    --map-root-user` (a user namespace too, so no privilege is needed where the kernel allows
    unprivileged user namespaces) and, once inside, brings the loopback interface up.

    Returns:
      None once inside (the command goes on there), or the reason the namespace cannot be
      had (the command should say so before it starts); it does not return when it
      re-executes.
    """
    if os.environ.get(PRIVATE_NETWORK_ENV):
        _loopback_up()
        return None
    unshare = shutil.which("unshare")
    if unshare is None:
        return "the unshare program (util-linux) is not installed"
    command = [unshare, "--net", "--map-root-user"]
    probe = subprocess.run([*command, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"{' '.join(command[1:])} is not allowed here ({probe.stderr.strip()})"
    os.environ[PRIVATE_NETWORK_ENV] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(unshare, [*command, sys.executable, *sys.orig_argv[1:]])


def in_private_network():
    """Whether this process runs in the namespace `private_network` made."""
    return bool(os.environ.get(PRIVATE_NETWORK_ENV))


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | _IFF_UP, b""))


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
      Stopped: SIGINT or SIGTERM arrived and the workers stopped cleanly.
    """
    ports = free_ports(ps + workers)
    ps_hosts = ",".join(f"127.0.0.1:{p}" for p in ports[:ps])
    worker_hosts = ",".join(f"127.0.0.1:{p}" for p in ports[ps:])
    common = [*train_args, f"--ps_hosts={ps_hosts}", f"--worker_hosts={worker_hosts}"] + \
        (["--sync_replicas"] if sync else [])
    tasks = [(f"ps{i}", "ps", i) for i in range(ps)] + \
        [(f"worker{i}", "worker", i) for i in range(workers)]
    processes, threads = {}, []
    env = {**os.environ, LAUNCHER_ENV: str(os.getpid())}
    try:
        with session.StopSignals() as stop:
            for name, job, index in tasks:
                processes[name] = subprocess.Popen(
                    [python, "-m", TRAIN, *common, f"--job_name={job}", f"--task_index={index}"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                    start_new_session=True, env=env)
                threads.append(threading.Thread(target=_stream, daemon=True,
                                                args=(processes[name], name, out)))
                threads[-1].start()
            return _wait(processes, deadline_s, stop, out)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()
        for thread in threads:
            thread.join(timeout=5)


def show_stack_on_request():
    """In a task: prints every thread's Python stack to stderr on STACK_SIGNAL, which the
    launcher sends before it kills a task that did not finish or stop in time."""
    faulthandler.register(STACK_SIGNAL, all_threads=True)


def die_with_launcher():
    """In a task this module started (its $CADL_GRAPH_LAUNCHER_PID set): asks the kernel to
    SIGKILL it when the launcher dies, and exits at once if the launcher is already gone (it
    may have died while the task was starting)."""
    parent = os.environ.get(LAUNCHER_ENV)
    if not parent:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or \
            os.getppid() != int(parent):
        os._exit(1)  # do not train unattended


def _show_stacks(processes, out):
    """Asks each running task for its threads' Python stacks (`show_stack_on_request`), so a
    task that hangs says where before it is killed."""
    running = [(name, p) for name, p in processes.items() if p.poll() is None]
    for name, process in running:
        out(f"[launcher] {name} is still running; its stacks:")
        process.send_signal(STACK_SIGNAL)
    time.sleep(STACK_WAIT_S)


def _stop_servers(processes, out):
    """Ends the ps tasks still running once every worker has exited: a ps serves until each
    worker says it is done, and a worker that the stop reached before it began training ends
    without saying so (it has nothing to save), so the ps would wait for it forever."""
    for name, process in processes.items():
        if name.startswith("ps") and process.poll() is None:
            out(f"[launcher] every worker has exited; stopping {name}")
            process.terminate()
            process.wait()


def _stopped_message(signum, workers):
    """What a stop kept. A worker that had begun training finished its step (and the chief
    saved it); one still starting (loading data, waiting for the chief) was ended by the
    signal itself, with no step to lose."""
    early = [name for name, status in workers.items() if status == -signal.SIGTERM]
    said = f"the cluster stopped on {signum.name}: "
    if not early:
        said += "the workers finished their step and the chief saved it"
    elif len(early) == len(workers):
        said += "no worker had begun training, so none trained a step"
    else:
        said += (f"{', '.join(early)} had not begun training and ended without a step; the "
                 "others finished their step" +
                 (", and the chief saved it" if "worker0" not in early else ""))
    return said + "; run the same command to resume"


def _wait(processes, deadline_s, stop, out):
    end = time.monotonic() + deadline_s
    stopping = None
    while True:
        if stop.signum and stopping is None:
            stopping = signal.Signals(stop.signum)
            for name, process in processes.items():
                if name.startswith("worker") and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            end = min(end, time.monotonic() + STOP_GRACE_S)
        statuses = {name: p.poll() for name, p in processes.items()}
        if stopping is not None:
            workers = {n: s for n, s in statuses.items() if n.startswith("worker")}
            if all(status is not None for status in workers.values()):
                _stop_servers(processes, out)
            if all(status is not None for status in statuses.values()):
                raise Stopped(_stopped_message(stopping, workers), stopping.value)
            if time.monotonic() > end:
                _show_stacks(processes, out)
                raise ClusterRunError(f"the cluster did not stop within {STOP_GRACE_S} s of "
                                      f"{stopping.name}; killed every task (each one's Python "
                                      "stack above shows where it waited)")
            time.sleep(0.2)
            continue
        failed = [name for name, status in statuses.items() if status not in (None, 0)]
        if failed:
            raise ClusterRunError(f"task {failed[0]} exited with status {statuses[failed[0]]}; "
                                  "stopped the others (its output above says why)")
        if all(status == 0 for status in statuses.values()):
            return statuses
        if time.monotonic() > end:
            running = [name for name, status in statuses.items() if status is None]
            _show_stacks(processes, out)
            raise ClusterRunError(f"the cluster did not finish within {deadline_s:.0f} s; "
                                  f"stopped {', '.join(running)} (their Python stacks are above)")
        time.sleep(0.2)
