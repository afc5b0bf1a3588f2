"""Training one registry model across processes, on TensorFlow's own distributed runtime.

A cluster has `ps` tasks, which hold the variables, and `worker` tasks, which compute: the
TF1 gRPC runtime these graphs were made for (`tf.distribute.Server`, a `ClusterSpec`,
`replica_device_setter`, `MonitoredSession`, `SyncReplicasOptimizer`), not `tf.distribute`
strategies, which turn the variables into resource variables and change the graph.

    ps task:      serve(cluster)               holds the variables until every worker is done
    worker task:  train_worker(cluster, run)   trains on its own shard of the train split

`run_task` picks the one this process is.

Every variable (and its Adam slots) is placed on `/job:ps/task:k`, the compute on
`/job:worker/task:i` (`cadl-graph dump_graph --cluster_workers=2` shows it); the model's own
ops are the registry graph's, in the same order, so the checkpoint the chief (worker 0) writes
has the single-process variable names: scoring, resuming a single-process run and exporting
all read it unchanged. Asynchronous by default: each worker applies its own gradients (a run
may overshoot the last step by up to workers - 1; the chief waits for the others to leave their
loop before its last save, so that checkpoint holds the step its name says). `sync=True`
wraps Adam in a SyncReplicasOptimizer that averages one gradient from every worker per step
(its own graph, pinned by `golden/<model>.sync_replicas.ops.txt`).

What the runtime needs, and is done here: a ps never returns from `join()`, so it waits on a
shared queue that every worker enqueues to when it is done; each worker filters its devices to
the ps tasks and itself, so a surviving worker does not hang on a dead one; a non-chief
re-checks the chief's initialisation every half second, not every 30; the chief's Saver runs
on the chief, so `checkpoint_dir` must be writable by worker 0 (not by the ps); gRPC listens
on every interface of each host, so run clusters on trusted networks.
"""

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from cadl_graph.compat import tf
from cadl_graph.data.datasets import DatasetSplit
from cadl_graph.errors import ConfigError, Stopped
from cadl_graph.graphs import registry
from cadl_graph.training import checkpoints, launcher, rundir, session
from cadl_graph.training.scoring import Feeder, evaluate

DONE_QUEUE = "cadl_graph_done"
WAIT_FOR_CHIEF_S = 0.5   # how often a non-chief worker checks that the chief initialised
MAX_WAIT_S = 600         # ... and for how long, before it gives up
STOP_GRACE_S = 2         # how long a stopping session waits for its queue-runner threads
LAST_SAVE_WAIT_S = 30    # how long the chief waits for the other workers before its last save


class ClusterError(ConfigError):
    """A cluster description cannot work (bad hosts, task index, job name)."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """This process's place in a cluster.

    Attributes:
      ps, workers: host:port of every ps and worker task.
      job: "ps" or "worker"; task: this process's index in its job.
      sync: average the workers' gradients each step (SyncReplicasOptimizer).
    """

    ps: tuple
    workers: tuple
    job: str
    task: int
    sync: bool = False

    def __post_init__(self):
        if not self.ps or not self.workers:
            raise ClusterError("a cluster needs at least one ps and one worker host "
                               "(--ps_hosts=host:port,... --worker_hosts=host:port,...)")
        for host in (*self.ps, *self.workers):
            name, _, port = host.rpartition(":")
            if not name or not port.isdigit():
                raise ClusterError(f"{host!r} is not host:port")
        if self.job not in ("ps", "worker"):
            raise ClusterError(f"--job_name must be ps or worker, got {self.job!r}")
        hosts = self.ps if self.job == "ps" else self.workers
        if not 0 <= self.task < len(hosts):
            raise ClusterError(f"--task_index={self.task}: the {self.job} job has "
                               f"{len(hosts)} task(s), 0 to {len(hosts) - 1}")

    @classmethod
    def from_tf_config(cls, sync=False, environ=None):
        """The cluster that $TF_CONFIG describes (as Kubernetes operators set it), read by
        TensorFlow's own resolver."""
        environ = os.environ if environ is None else environ
        try:
            config = json.loads(environ["TF_CONFIG"])
            resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
            spec = resolver.cluster_spec().as_dict()
            return cls(tuple(spec.get("ps", ())), tuple(spec.get("worker", ())),
                       config["task"]["type"], int(config["task"]["index"]), sync)
        except (KeyError, ValueError, TypeError) as e:
            raise ClusterError(f"$TF_CONFIG does not describe a ps/worker cluster and this "
                               f"task ({e}); it needs cluster.ps, cluster.worker and "
                               "task.type/task.index") from None

    @property
    def chief(self):
        return self.job == "worker" and self.task == 0

    def spec(self):
        return tf.train.ClusterSpec({"ps": list(self.ps), "worker": list(self.workers)})

    def describe(self):
        return dict(ps=list(self.ps), workers=list(self.workers), sync=self.sync)

    def session_config(self):
        # Only the ps tasks and this task: a dead peer worker must not stall this one.
        return tf.ConfigProto(device_filters=["/job:ps", f"/job:{self.job}/task:{self.task}"])


def _done_queue(ps_index, workers):
    """The queue on ps task `ps_index` that each worker enqueues to when it is done."""
    with tf.device(f"/job:ps/task:{ps_index}"):
        return tf.FIFOQueue(workers, tf.int32, shared_name=f"{DONE_QUEUE}_{ps_index}",
                            name=f"done_queue_{ps_index}")


def _left_queue(workers):
    """The queue on ps task 0 that each non-chief worker of an asynchronous run enqueues to
    when it has left its training loop, and that the chief reads before its last save."""
    with tf.device("/job:ps/task:0"):
        return tf.FIFOQueue(workers, tf.int32, shapes=[[]], shared_name=f"{DONE_QUEUE}_left",
                            name="left_queue")


def serve(cluster, out=print):
    """Runs a ps task until every worker has said it is done."""
    server = tf.distribute.Server(cluster.spec(), job_name="ps", task_index=cluster.task,
                                  config=cluster.session_config())
    out(f"ps task {cluster.task} serving at {cluster.ps[cluster.task]}")
    with tf.Graph().as_default():
        dequeue = _done_queue(cluster.task, len(cluster.workers)).dequeue()
        with tf.Session(server.target, config=cluster.session_config()) as sess:
            for i in range(len(cluster.workers)):
                sess.run(dequeue)
                out(f"ps task {cluster.task}: {i + 1} of {len(cluster.workers)} workers done")


def shard(split, cluster):
    """Worker `cluster.task`'s share of a split: every n-th example from its index."""
    rows = slice(cluster.task, None, len(cluster.workers))
    labels = None if split.labels is None else split.labels[rows]
    return DatasetSplit(split.images[rows], labels, np.random.default_rng(cluster.task))


class _WaitForChief(tf.train.SessionCreator):
    """A non-chief worker's session: wait until the chief has initialised the variables,
    checking every WAIT_FOR_CHIEF_S (MonitoredTrainingSession waits 30 s between checks)."""

    def __init__(self, scaffold, master, config):
        self.scaffold, self.master, self.config = scaffold, master, config

    def create_session(self):
        self.scaffold.finalize()
        manager = tf.train.SessionManager(
            local_init_op=self.scaffold.local_init_op, ready_op=self.scaffold.ready_op,
            ready_for_local_init_op=self.scaffold.ready_for_local_init_op,
            graph=tf.get_default_graph(), recovery_wait_secs=WAIT_FOR_CHIEF_S)
        return manager.wait_for_session(self.master, config=self.config,
                                        max_wait_secs=MAX_WAIT_S)


@contextlib.contextmanager
def _token_thread_stops_quietly():
    """While the block runs, the chief's sync-token thread, which TensorFlow starts with no
    coordinator, may end by the session's close without printing a traceback: that is how it
    stops. Any other thread's exception is reported as usual."""
    previous = threading.excepthook

    def hook(args):
        if not (args.thread is not None and args.thread.name.startswith(
                "QueueRunnerThread-sync_token_q") and
                issubclass(args.exc_type, tf.errors.CancelledError)):
            previous(args)
    threading.excepthook = hook
    try:
        yield
    finally:
        for thread in threading.enumerate():  # let them end under the hook
            if thread.name.startswith("QueueRunnerThread-sync_token_q"):
                thread.join(timeout=STOP_GRACE_S)
        threading.excepthook = previous


class _SyncMinimize:
    """`minimize` for the builders: wraps their Adam in a SyncReplicasOptimizer, which it keeps
    (`optimizer`) for the session hook that the synchronous run needs."""

    def __init__(self, workers):
        self.workers, self.optimizer = workers, None

    def __call__(self, optimizer, cost):
        self.optimizer = tf.train.SyncReplicasOptimizer(
            optimizer, replicas_to_aggregate=self.workers, total_num_replicas=self.workers)
        train_op = self.optimizer.minimize(cost,
                                           global_step=tf.train.get_or_create_global_step())
        # A tensor TensorFlow makes for its session hook, and warns about when no session uses it.
        getattr(self.optimizer.ready_for_local_init_op, "mark_used", lambda: None)()
        return train_op


def _build(cluster, name, hparams, seed):
    """The registry graph placed on the cluster; returns (graph, model, train_op, global
    step, sync optimizer or None, done enqueue ops, `_LastSave` or None)."""
    graph = tf.Graph()
    sync = _SyncMinimize(len(cluster.workers)) if cluster.sync else None
    with graph.as_default():
        tf.set_random_seed(seed)
        placement = tf.train.replica_device_setter(
            worker_device=f"/job:worker/task:{cluster.task}", cluster=cluster.spec())
        with tf.device(placement):
            model = registry.build(name, minimize=sync, **hparams)
            global_step = tf.train.get_or_create_global_step()
            train_op = model.train_op if cluster.sync else \
                tf.group(model.train_op, tf.assign_add(global_step, 1))
        done = [_done_queue(i, len(cluster.workers)).enqueue(1) for i in range(len(cluster.ps))]
        # A synchronous run's steps are the chief's own (it applies every update), so only an
        # asynchronous one has other workers stepping while the chief saves.
        last_save = None if cluster.sync or len(cluster.workers) == 1 else \
            _LastSave(_left_queue(len(cluster.workers)), len(cluster.workers) - 1)
    return graph, model, train_op, global_step, sync and sync.optimizer, done, last_save


def placed_graph(name, workers=2, ps=1, sync=False, task=0, hparams=None):
    """Registry model `name` (with `hparams` overriding the lecture's) as worker `task` of a
    cluster builds it (no servers needed): (graph, model). For looking at placement and at the
    sync variant's ops."""
    hosts = [f"localhost:{2222 + i}" for i in range(ps + workers)]
    task = Cluster(tuple(hosts[:ps]), tuple(hosts[ps:]), "worker", task, sync)
    graph, model, *_ = _build(task, name, registry.hparams(name, **(hparams or {})), seed=0)
    return graph, model


def run_task(cluster, config, ds=None, out=print):
    """Runs this process's task of a training run: a ps task serves the variables until the
    workers are done; a worker trains on its shard of the train split (`train_worker`).

    Args:
      cluster: this process's `Cluster`.
      config: a `session.TrainConfig`.
      ds: the Dataset (default: the model's, as a single-process run loads it).

    Raises:
      ClusterError: a cluster description that cannot work, or steps_per_run > 1;
        ConfigError, HparamError: bad settings; RunFolderError: the chief's folder holds
        another run.
    """
    launcher.die_with_launcher()
    launcher.show_stack_on_request()
    if config.steps_per_run != 1 or config.xla:
        raise ClusterError(f"--steps_per_run={config.steps_per_run}"
                           f"{' --xla' if config.xla else ''}: a cluster's workers run the "
                           "course's step, one per Session.run (each step reads the variables "
                           "from the ps and writes them back); leave out --xla and "
                           "--steps_per_run here")
    if cluster.job == "ps":
        config.resolved()  # bad settings fail here too, not only on the workers
        return serve(cluster, out=out)
    return train_worker(cluster, session.prepare(config, ds), out=out)


def train_worker(cluster, run, out=print):
    """Trains `run` as worker `cluster.task`; the chief also checkpoints, then scores and draws
    (the kind's pictures; per-epoch reconstructions are a single-process run's).

    Args:
      run: a prepared `session.Run`; this worker trains on its shard of `run.ds.train`.

    Returns:
      dict: steps (the global step reached), images_per_s of this worker, saved (the step of
      the chief's last checkpoint, None on the others), and for the chief test (accuracy or
      cost) and test_metric.
    """
    # The chief holds the folder as a single-process run does (lock, leftovers, run.json, the
    # newest intact checkpoint); the other workers never touch it.
    taken = run.taken(cluster=cluster.describe()) if cluster.chief else contextlib.nullcontext()
    with session.StopSignals() as stop, taken as prefix:
        result = _train(cluster, run, prefix, stop, out)
        if stop.signum:
            saved = (f"the chief saved model.ckpt-{result['saved']}" if cluster.chief else
                     "the chief saves the step it reaches")
            raise Stopped(f"worker {cluster.task} stopped at global step {result['steps']}/"
                          f"{run.total_steps} by {signal.Signals(stop.signum).name}; {saved}; "
                          "run the same command to resume", stop.signum)
        if cluster.chief:
            result.update(_score(run, out))
    return result


def _train(cluster, run, prefix, stop, out):
    """Trains this worker's shard from `prefix` (the chief's checkpoint to restore, or None)
    until the last step or `stop.signum`; returns {steps, images_per_s, global_steps_per_s}.
    The chief's checkpoint hook saves the step reached when the session closes."""
    config = run.config
    server = tf.distribute.Server(cluster.spec(), job_name="worker", task_index=cluster.task,
                                  config=cluster.session_config())
    graph, model, train_op, global_step, sync, done, last_save = _build(
        cluster, config.model, run.hparams, config.seed)
    total = run.total_steps
    with graph.as_default():
        with tf.device(f"/job:worker/task:{cluster.task}"):  # the chief writes the files
            saver = tf.train.Saver(max_to_keep=config.keep_checkpoints, save_relative_paths=True)
        if cluster.chief:
            rundir.save_meta_graph(run.folder, saver, graph)
            # The Saver keeps the last few checkpoints and deletes older ones: tell it of those
            # on disk.
            saver.recover_last_checkpoints([p for _, p in checkpoints.on_disk(run.folder)])
        saving = _FiniteBeforeSave(run) if cluster.chief else None
        creator, hooks = _session_and_hooks(cluster, run, server, saver, sync, prefix, saving)
        # The sync optimizer's token thread stays blocked when training stops: give it a
        # moment, then close the session under it (MonitoredSession waits 120 s by default).
        with _token_thread_stops_quietly(), tf.train.MonitoredSession(
                session_creator=creator, hooks=hooks,
                stop_grace_period_secs=STOP_GRACE_S) as sess:
            first = sess.run(global_step)
            out(f"worker {cluster.task}: starting at global step {first}/{total}")
            images, started = _train_shard(sess, train_op, Feeder(model, run.mean_img),
                                           shard(run.ds.train, cluster), config, cluster.task,
                                           stop)
            if last_save is not None:
                last_save.wait(sess, out) if cluster.chief else last_save.leave(sess)
        # Timed to the session's close (the chief's last save, the stop grace), as the global
        # step is read after it.
        seconds = time.monotonic() - started if started else 0.0
        with tf.Session(server.target, config=cluster.session_config()) as sess:
            step = int(sess.run(global_step))
            sess.run(done)
    rate = images / seconds if seconds else None
    step_rate = (step - first) / seconds if seconds else None
    out(f"worker {cluster.task}: done at global step {step}, {rate or 0:.0f} images/s on this "
        f"worker, {step_rate or 0:.1f} global steps/s")
    return dict(steps=step, images_per_s=rate, global_steps_per_s=step_rate,
                saved=saving and saving.last)


class _LastSave:
    """An asynchronous run's last checkpoint holds the step its name says.

    The chief's hook reads the global step, then saves the variables: another worker's step
    between the two (the run's end or a stop reaches every worker at once) would go into a file
    named for the step before it. So each other worker says when it has left its loop
    (`leave`), and the chief waits for them (`wait`) before it closes its session.
    """

    def __init__(self, queue, others):
        self.others = others
        self.enqueue, self.dequeue = queue.enqueue(1), queue.dequeue_many(others)

    def leave(self, sess):
        sess.run_step_fn(lambda step_context: step_context.session.run(self.enqueue))

    def wait(self, sess, out):
        options = tf.RunOptions(timeout_in_ms=int(LAST_SAVE_WAIT_S * 1000))
        try:  # the raw session: no hook sees this run
            sess.run_step_fn(lambda step_context: step_context.session.run(
                self.dequeue, options=options))
        except tf.errors.DeadlineExceededError:
            out(f"worker 0: {self.others} other worker(s) did not stop within "
                f"{LAST_SAVE_WAIT_S} s (stopped by hand, or failed?); saving now, so the last "
                "checkpoint may hold the steps they take while it is written")


def _session_and_hooks(cluster, run, server, saver, sync, prefix, saving):
    """(session creator, hooks) of this worker's MonitoredSession: it stops at the run's last
    step; the chief initialises or restores, and checkpoints; the others wait for it."""
    config, folder = run.config, run.folder
    scaffold = tf.train.Scaffold(saver=saver)
    hooks = [tf.train.StopAtStepHook(last_step=run.total_steps)]
    if sync is not None:
        hooks.append(sync.make_session_run_hook(cluster.chief))
    if not cluster.chief:
        return _WaitForChief(scaffold, server.target, cluster.session_config()), hooks
    hooks.append(tf.train.CheckpointSaverHook(
        str(folder), save_steps=config.save_every_steps, scaffold=scaffold,
        checkpoint_basename=rundir.CHECKPOINT_NAME, save_graph_def=False,
        listeners=[saving]))
    return tf.train.ChiefSessionCreator(scaffold, master=server.target,
                                        config=cluster.session_config(),
                                        checkpoint_filename_with_path=prefix), hooks


class _FiniteBeforeSave(tf.train.CheckpointSaverListener):
    """The chief's check before each checkpoint, as a single-process run makes it: a
    non-finite weight ends the run with DivergedError and nothing non-finite is saved. `last`
    is the step of the last checkpoint written."""

    def __init__(self, run):
        self.run, self.last = run, None

    def before_save(self, session, global_step_value):
        variables = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
        self.run.check_finite(session, variables, global_step_value)

    def after_save(self, session, global_step_value):
        self.last = int(global_step_value)


def _train_shard(sess, train_op, feeder, split, config, task, stop):
    """Runs training steps on `split`, epoch after epoch, until the session should stop or
    `stop.signum` says a stop was asked for.

    Returns:
      (images trained on, `time.monotonic()` of the first step, or None without one).
    """
    images, started, epoch = 0, None, 0
    while not sess.should_stop() and not stop.signum:
        order = split.order(seed=[config.seed, task, epoch])
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            sess.run(train_op, feeder(split.images[idx], None if split.labels is None
                                      else split.labels[idx], train=True))
            images += len(idx)
            started = started or time.monotonic()
            if sess.should_stop() or stop.signum:
                break
        epoch += 1
    return images, started


def _score(run, out):
    """The chief's end of a run: scores and draws from the newest checkpoint, as a
    single-process run would from its session."""
    saved = rundir.open_run(run.folder)
    with saved.restore() as (sess, feeder):
        test = evaluate(sess, feeder, run.ds.test)
        pictures = run.kind.draw(sess, feeder, run.ds, run.folder / rundir.PICTURES) \
            if run.config.pictures else {}
    if test is not None:
        out(run.final_line(test, f" ({Path(saved.prefix).name})"))
    return dict(test=test, test_metric=run.kind.test_metric, checkpoint=saved.prefix,
                pictures=pictures)
