"""Compiles the C++ loader (load_graph) against this Python's TensorFlow; prints its path.

The loader runs a frozen export from C++: it loads the GraphDef, feeds MNIST images from an IDX
file in batches and prints the accuracy (10-wide output with labels) or the reconstruction cost,
the first output rows and its timing. Its source ships with the package; it links against the
TensorFlow wheel's own libraries, so it needs g++ and nothing else (`make cc` runs this).

Examples:
  cadl-graph build_loader --output=load_graph
  ./load_graph --graph=cc.pb --images=t10k-images-idx3-ubyte --labels=t10k-labels-idx1-ubyte
  cadl-graph build_loader --print_command    # the g++ line, to adapt for your own program
"""

from absl import flags

from cadl_graph import cli
from cadl_graph.export import loader

FLAGS = flags.FLAGS
flags.DEFINE_string("output", "load_graph", "Path of the program to write.")
flags.DEFINE_string("compiler", "g++", "The C++17 compiler.")
flags.DEFINE_bool("print_command", False, "Print the compiler command line instead of running "
                  "it.")


def main(argv):
    cli.no_arguments(argv)
    if FLAGS.print_command:
        print(" ".join(loader.command(FLAGS.output, FLAGS.compiler)))
        return 0
    return cli.run(lambda: print(loader.build(FLAGS.output, FLAGS.compiler)))


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
