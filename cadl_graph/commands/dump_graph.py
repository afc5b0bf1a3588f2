"""Prints a registry model's graph: one golden line per op, or the whole GraphDef.

Look at any graph of the project without pytest. The default output is exactly the op lines of
its golden file, in creation order: name, type, output shapes, inputs and defining attributes
(small constants' values written out), tab-separated (golden format 2; see
cadl_graph/golden/listing.py).

Examples:
  cadl-graph dump_graph --model=conv_autoencoder
  cadl-graph dump_graph --model=vae --format=golden > golden/vae.ops.txt
  cadl-graph dump_graph --model=linear_classifier --format=pbtxt | less
  cadl-graph dump_graph --model=vae --variant=bn_in_cond   # the repaired batch norm
  cadl-graph dump_graph --model=conv_classifier --cluster_workers=2 --format=devices
  cadl-graph dump_graph --model=linear_classifier --cluster_workers=2 --sync_replicas
  cadl-graph dump_graph --model=vae --steps_per_run=10   # train --steps_per_run's graph
"""

from absl import app, flags

from cadl_graph import cli
from cadl_graph.compat import tf
from cadl_graph.errors import ConfigError
from cadl_graph.golden import listing
from cadl_graph.graphs import registry
from cadl_graph.training import cluster, loop, session

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", None, registry.NAMES, "Registry model to build.")
flags.DEFINE_enum("variant", None, list(registry.VARIANTS),
                  "A named departure from the course's graph, e.g. bn_in_cond: the batch norm "
                  "whose moving-average update runs only while training (VAE family).")
flags.DEFINE_enum("format", "ops", ["ops", "golden", "pbtxt", "devices"],
                  "ops: the golden's op lines; golden: with the golden's header; "
                  "pbtxt: the GraphDef in protobuf text format; devices: each op's name and "
                  "the device it is placed on.")
flags.DEFINE_integer("cluster_workers", 0, "Build the graph as worker 0 of a cluster of this "
                     "many workers and one ps (replica_device_setter placement).", lower_bound=0)
flags.DEFINE_bool("sync_replicas", False, "With --cluster_workers: the synchronous variant "
                  "(SyncReplicasOptimizer around Adam).")
flags.DEFINE_integer("steps_per_run", 1, "Above 1: the graph `cadl-graph train "
                     "--steps_per_run=K` trains in: the model, its global step and Saver, then "
                     "the loop of K steps per Session.run (one graph for every K > 1).",
                     lower_bound=1)


def main(argv):
    cli.no_arguments(argv)
    try:
        overrides = registry.variant_hparams(FLAGS.model, FLAGS.variant)
    except ConfigError as e:
        raise app.UsageError(f"--variant: {e}") from None
    if FLAGS.sync_replicas and not FLAGS.cluster_workers:
        raise app.UsageError("--sync_replicas builds a cluster's graph; give --cluster_workers")
    if FLAGS.steps_per_run > 1 and FLAGS.cluster_workers:
        raise app.UsageError("--steps_per_run builds a single process's training graph; a "
                             "cluster's workers run one step per Session.run: drop one")
    model = registry.build_in_new_graph(FLAGS.model, **overrides)
    graph = model.graph
    if FLAGS.cluster_workers:
        graph, _ = cluster.placed_graph(FLAGS.model, FLAGS.cluster_workers,
                                        sync=FLAGS.sync_replicas, hparams=overrides)
    elif FLAGS.steps_per_run > 1:
        graph = loop.training_graph(session.TrainConfig(
            model=FLAGS.model, steps_per_run=FLAGS.steps_per_run), overrides)
    lines = listing.op_lines(graph)
    if FLAGS.format == "ops":
        print("\n".join(lines))
    elif FLAGS.format == "devices":
        print("\n".join(f"{op.name}\t{op.device or '-'}" for op in graph.get_operations()))
    elif FLAGS.format == "golden":
        print(listing.render(FLAGS.model, model.hparams, lines, tf.__version__), end="")
    else:
        print(graph.as_graph_def(), end="")
    return 0


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__, required=["model"])


if __name__ == "__main__":
    run()
