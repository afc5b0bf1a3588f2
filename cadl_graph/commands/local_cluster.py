"""Trains a registry model with a whole TF1 cluster on this machine: ps and worker processes.

Each task is cadl-graph train with its --job_name and --task_index on a free loopback port, in
a network namespace of their own (nothing from another host can connect; where the system
refuses one, the command says so before it starts); their output is streamed with a task
prefix; the chief (worker 0) checkpoints into --train_dir, which then resumes, scores and
exports like any single-process run. A task that fails, or a
deadline that passes, stops all the others. Any flag this script does not define is passed to
every task as it is (a cadl-graph train flag, e.g. --epochs=1 or --max_steps=100; a flag that
train.py does not know either makes every task exit with its own error line).

Examples:
  cadl-graph local_cluster --model=conv_classifier --workers=2
  cadl-graph local_cluster --model=linear_classifier --workers=2 --sync_replicas \\
      --train_dir=runs/cluster/linear --epochs=1
"""

from absl import app, flags, logging

from cadl_graph import cli
from cadl_graph.data import sources
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
flags.DEFINE_bool("private_network", True, "Run the tasks in a network namespace of their own "
                  "(loopback only; TensorFlow's gRPC servers listen on every interface, "
                  "unauthenticated). Where the system refuses one, the command says so and "
                  "runs without.")
flags.DEFINE_multi_string("train_flag", [], "A cadl-graph train flag for every task, e.g. "
                          "--train_flag=--epochs=1 (the same as giving --epochs=1 itself).")


def parse_flags(argv):
    """Parses this script's flags; any other --flag is kept in argv, for every task."""
    return [argv[0], *FLAGS(argv, known_only=True)[1:]]


def main(argv):
    passed = argv[1:]
    stray = [a for a in passed if not a.startswith("-")]
    if stray:
        raise app.UsageError(f"unexpected arguments: {' '.join(stray)}")
    args = [f"--model={FLAGS.model}",
            f"--train_dir={FLAGS.train_dir or f'runs/cluster/{FLAGS.model}'}",
            *FLAGS.train_flag, *passed]

    def job():
        if FLAGS.private_network and not launcher.in_private_network():
            # The namespace has no way out: MNIST is fetched (or found cached) first.
            data_dir = next((a.split("=", 1)[1] for a in args if a.startswith("--data_dir=")),
                            None)
            sources.fetch_mnist(data_dir=data_dir)
        why_not = launcher.private_network() if FLAGS.private_network else "--noprivate_network"
        if why_not:
            logging.warning("the cluster's tasks listen on every network interface of this "
                            "machine, unauthenticated (%s)", why_not)
        launcher.launch(args, FLAGS.workers, FLAGS.ps, FLAGS.sync_replicas, FLAGS.deadline)

    return cli.run(job)


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__, required=["model"], flags_parser=parse_flags)


if __name__ == "__main__":
    run()
