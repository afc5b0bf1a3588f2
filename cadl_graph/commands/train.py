"""Trains a registry model on MNIST the lecture's way, with resumable checkpoints.

Defaults are the lecture's recipe for the model (epochs, batch size, learning rate). Each epoch
prints what the lecture printed, plus images per second; the end reports the held-out test
split. Checkpoints go to --train_dir every --save_every_steps steps and at the end; running
the same command again resumes from the latest one. Pictures land in <train_dir>/pictures.

Examples:
  cadl-graph train --model=conv_autoencoder --train_dir=runs/train/cae
  cadl-graph train --model=linear_classifier --epochs=1 --logdir=runs/tb/linear
  cadl-graph train --model=vae --max_steps=200 --train_dir=/tmp/vae
  cadl-graph train --model=conv_classifier --hparam=init_stddev=0.1
  cadl-graph train --model=vae --hparam='batch_norm_update="in_cond"'
  cadl-graph train --model=linear_classifier --steps_per_run=100

As one task of a cluster (TensorFlow's gRPC runtime; cadl-graph local_cluster starts a whole
one on this machine): the same command on each host, with its --job_name and --task_index
(or the $TF_CONFIG a cluster manager sets):
  cadl-graph train --model=conv_classifier --train_dir=runs/cluster \\
      --ps_hosts=ps0:2222 --worker_hosts=w0:2222,w1:2222 --job_name=worker --task_index=0
  tensorboard --logdir=runs/tb
"""

import math
import os

from absl import app, flags

from cadl_graph import cli
from cadl_graph.graphs import registry
from cadl_graph.training import cluster, loop, session

FLAGS = cli.define_hparam()
cli.define_data_dir()
flags.DEFINE_enum("model", None, registry.NAMES, "Registry model to train.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the lecture's for the model).",
                     lower_bound=0)
flags.DEFINE_integer("batch_size", None, "Batch size (default: the lecture's).", lower_bound=1)
flags.DEFINE_float("learning_rate", None, "Adam's learning rate (default: the lecture's); the "
                   "same as --hparam=learning_rate=VALUE.")
flags.DEFINE_integer("seed", 0, "Seeds data shuffling and initialisation.", lower_bound=0)
flags.DEFINE_string("train_dir", None,
                    "Checkpoints, run.json and pictures (default: runs/train/<model>).")
flags.DEFINE_integer("max_steps", None, "Stop at this global step (short runs).",
                     lower_bound=0)
flags.DEFINE_integer("save_every_steps", session.SAVE_EVERY_STEPS, "Checkpoint period in steps.",
                     lower_bound=1)
flags.DEFINE_string("logdir", None, "TensorBoard event folder (graph and scalars).")
flags.DEFINE_bool("pictures", True, "Draw reconstructions, weights and manifolds.")
flags.DEFINE_integer("steps_per_run", 1, "Training steps per Session.run: 1 is the course's "
                     "loop; more run them in a tf.while_loop over the training split held in "
                     "the graph (the same batches; worth it for models whose step takes well "
                     "under a millisecond). One process only.", lower_bound=1)
flags.DEFINE_bool("xla", False, "Compile the training step with XLA, in the "
                  "--steps_per_run loop (with any K): faster on the compute-bound models; the "
                  "weights then differ from the course's loop in the last bits. One process "
                  "only.")
flags.register_validator("learning_rate", lambda v: v is None or (math.isfinite(v) and v > 0),
                         message="--learning_rate must be a finite number > 0")
flags.DEFINE_list("ps_hosts", None, "Cluster: host:port of every ps task.")
flags.DEFINE_list("worker_hosts", None, "Cluster: host:port of every worker task (the first is "
                  "the chief, which checkpoints, scores and draws).")
flags.DEFINE_enum("job_name", None, ["ps", "worker"], "Cluster: this task's job.")
flags.DEFINE_integer("task_index", 0, "Cluster: this task's index in its job.", lower_bound=0)
flags.DEFINE_bool("sync_replicas", False, "Cluster: average one gradient from every worker "
                  "per step (SyncReplicasOptimizer) instead of applying each as it comes.")


def main(argv):
    cli.no_arguments(argv)
    cluster_flags = bool(FLAGS.job_name or FLAGS.ps_hosts or FLAGS.worker_hosts)
    cli.only_with(["task_index"], "job_name", set_=cluster_flags or "TF_CONFIG" in os.environ)
    hparams = cli.hparams()
    if FLAGS.learning_rate is not None:
        if hparams.get("learning_rate", FLAGS.learning_rate) != FLAGS.learning_rate:
            raise app.UsageError(f"--learning_rate={FLAGS.learning_rate} and "
                                 f"--hparam=learning_rate={hparams['learning_rate']} disagree; "
                                 "give one")
        hparams["learning_rate"] = FLAGS.learning_rate
    config = session.TrainConfig(
        model=FLAGS.model, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, seed=FLAGS.seed,
        train_dir=FLAGS.train_dir, data_dir=FLAGS.data_dir, max_steps=FLAGS.max_steps,
        save_every_steps=FLAGS.save_every_steps, logdir=FLAGS.logdir, pictures=FLAGS.pictures,
        steps_per_run=FLAGS.steps_per_run, xla=FLAGS.xla, hparams=hparams)
    if FLAGS.job_name or FLAGS.ps_hosts or FLAGS.worker_hosts or "TF_CONFIG" in os.environ:
        return cli.run(lambda: cluster.run_task(_cluster(), config))
    if FLAGS.sync_replicas:
        raise app.UsageError("--sync_replicas averages the gradients of a cluster's workers; "
                             "it needs a cluster (--ps_hosts, --worker_hosts, --job_name or "
                             "$TF_CONFIG; cadl-graph local_cluster starts one here)")
    return cli.run(lambda: loop.train(config))


def _cluster():
    if FLAGS.job_name or FLAGS.ps_hosts or FLAGS.worker_hosts:
        return cluster.Cluster(tuple(FLAGS.ps_hosts or ()), tuple(FLAGS.worker_hosts or ()),
                               FLAGS.job_name or "", FLAGS.task_index, FLAGS.sync_replicas)
    return cluster.Cluster.from_tf_config(FLAGS.sync_replicas)


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__, required=["model"])


if __name__ == "__main__":
    run()
