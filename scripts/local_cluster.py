"""Trains a registry model with a whole TF1 cluster on this machine: ps and worker processes.

Each task is scripts/train.py with its --job_name and --task_index on a free loopback port;
their output is streamed with a task prefix; the chief (worker 0) checkpoints into --train_dir,
which then resumes, scores and exports like any single-process run. A task that fails, or a
deadline that passes, stops all the others. Any other flag is passed to every task.

Examples:
  python scripts/local_cluster.py --model=conv_classifier --workers=2
  python scripts/local_cluster.py --model=linear_classifier --workers=2 --sync_replicas \\
      --train_dir=runs/cluster/linear --train_flag=--epochs=1
"""

from absl import app, flags

from cadl_graph import cli
from cadl_graph.graphs import registry
from cadl_graph.training import launcher

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", None, registry.NAMES, "Registry model to train.")
flags.DEFINE_integer("workers", 2, "Worker processes.", lower_bound=1)
flags.DEFINE_integer("ps", 1, "Parameter-server processes.", lower_bound=1)
flags.DEFINE_bool("sync_replicas", False, "Average one gradient from every worker per step.")
flags.DEFINE_string("train_dir", None, "The chief's run folder (default: "
                    "runs/cluster/<model>).")
flags.DEFINE_float("deadline", launcher.DEADLINE_S, "Seconds before everything is stopped.",
                   lower_bound=1)
flags.DEFINE_multi_string("train_flag", [], "A scripts/train.py flag for every task, e.g. "
                          "--train_flag=--epochs=1 --train_flag=--max_steps=100.")


def main(argv):
    cli.no_arguments(argv)
    args = [f"--model={FLAGS.model}",
            f"--train_dir={FLAGS.train_dir or f'runs/cluster/{FLAGS.model}'}",
            *FLAGS.train_flag]
    return cli.run(lambda: launcher.run(args, FLAGS.workers, FLAGS.ps, FLAGS.sync_replicas,
                                        FLAGS.deadline))


if __name__ == "__main__":
    flags.mark_flag_as_required("model")
    app.run(main)
