"""Says what a GraphDef file holds, as TensorFlow's summarize_graph does, and can run it.

Reads a binary or text GraphDef, or a SavedModel folder (its `serve` graph, with its
signatures listed; recognising and explaining a .meta or a checkpoint instead). Prints its
inputs with dtype and shape, its likely outputs, variables left, constant parameters, versions
and op types, whether it draws random numbers, and marks the ops that reach outside the
graph (files, printing, Python). With --images it feeds them to --input and prints the first
rows of --output; with --labels too, the accuracy of a 10-class output. A graph with ops that
reach outside it is refused before anything runs, unless --trust_graph says its origin is
trusted.

Examples:
  cadl-graph summarize_graph --graph=cc.pb
  cadl-graph summarize_graph --graph=cc.pb \\
      --images=t10k-images-idx3-ubyte --labels=t10k-labels-idx1-ubyte --limit=1000
  cadl-graph summarize_graph --graph=dec.pb --input=Z --images=codes.npy
  cadl-graph summarize_graph --graph=cc_saved_model \\
      --images=t10k-images-idx3-ubyte --labels=t10k-labels-idx1-ubyte
"""

from absl import flags, logging

from cadl_graph import cli, graphfile
from cadl_graph.export import predict, summarize

FLAGS = flags.FLAGS
flags.DEFINE_string("graph", None, "GraphDef file (.pb binary or text) or SavedModel folder.")
flags.DEFINE_string("images", None, "IDX image file (raw or .gz) or .npy array to feed.")
flags.DEFINE_string("labels", None, "IDX label file: report accuracy of a 10-class output.")
flags.DEFINE_string("input", "X", "Input node to feed.")
flags.DEFINE_string("output", "Y", "Output node to fetch.")
flags.DEFINE_integer("limit", None, "Use only the first N images.", lower_bound=1)
flags.DEFINE_integer("rows", 3, "Output rows to print.", lower_bound=0)
flags.DEFINE_bool("trust_graph", False, "With --images: run the graph even if it holds ops "
                  "that reach outside it (files, printing, Python), which are refused "
                  "otherwise. Only for a file whose origin you trust: a graph is a program.")


def main(argv):
    cli.no_arguments(argv)
    cli.only_with(["labels", "input", "output", "limit", "rows", "trust_graph"], "images")

    def job():
        graph_def = graphfile.load_graph_def(FLAGS.graph)
        saved_model = FLAGS.graph if graphfile.is_saved_model(FLAGS.graph) else None
        if saved_model:
            print(summarize.format_signatures(graphfile.load_meta_graph(saved_model)))
        print(summarize.format_summary(summarize.summarize(graph_def)))
        for fatal, problem in graphfile.check_versions(graph_def):
            (logging.error if fatal else logging.warning)("%s", problem)
        if FLAGS.images:
            print("\n".join(predict.run_files(graph_def, FLAGS.images, FLAGS.labels,
                                                FLAGS.input, FLAGS.output, FLAGS.limit,
                                                FLAGS.rows, FLAGS.trust_graph,
                                                saved_model)))

    return cli.run(job)


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__, required=["graph"])


if __name__ == "__main__":
    run()
