"""Compares two TF1 graphs op by op, as the golden tests do; exit 1 when they differ.

Each graph is a binary or text GraphDef (.pb, .pbtxt), a Saver's .meta, a training run's
folder (the model.ckpt.meta training writes), a golden file (.txt; the package's own by name,
e.g. conv_classifier.frozen.ops.txt) or a registry model's name. Ops are compared by name, type,
output shapes, inputs, the attributes that define them and small constant values; the
differences are listed by scope. An export's trained constants (listed in the .json that
export_graph writes beside the .pb) are compared by dtype and shape, not value.
Exit status: 0 the same, 1 different, 2 an input that cannot be read.

Examples:
  cadl-graph diff_graph conv_autoencoder golden/conv_autoencoder.ops.txt
  cadl-graph diff_graph old.pb new.pb --ignore=gradients --ignore='*/Adam*'
  cadl-graph diff_graph runs/train/vae vae --ignore=save --ignore=global_step --ignore=init_1
  cadl-graph diff_graph runs/train/vae/model.ckpt.meta vae.ops.txt --ignore=save \\
      --ignore=global_step --ignore=init_1
  cadl-graph diff_graph cc.pb conv_classifier.frozen.ops.txt
  cadl-graph diff_graph a.pb b.pb --opaque='layer*/W' --opaque='layer*/b'
"""
from absl import app, flags

from cadl_graph import cli
from cadl_graph.golden import graphdiff

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("ignore", [], "Drop ops before comparing: a scope (gradients, "
                          "save/) or an fnmatch pattern of op names (*/Adam*). Repeatable.")
flags.DEFINE_multi_string("opaque", [], "Compare these constants by dtype and shape, not value "
                          "(trained weights): an op name, scope or fnmatch pattern that must "
                          "match an op of either graph. Repeatable.")
flags.DEFINE_bool("export_json", True, "For an exported .pb with its .json beside it, compare "
                  "the trained constants the .json lists by dtype and shape.")


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("give two graphs: diff_graph A B (a .pb, .pbtxt, .meta, run "
                             "folder, golden .txt or registry model name)")
    report = []

    def job():
        report.extend(graphdiff.compare(argv[1], argv[2], FLAGS.ignore, FLAGS.opaque,
                                        FLAGS.export_json))

    status = cli.run(job, error_status=2)
    if status:
        return status
    if report:
        print("\n".join(report))
        return 1
    trained = [name for source in argv[1:] if FLAGS.export_json
               for name in graphdiff.export_constants(source)]
    print(f"{argv[1]} and {argv[2]}: the same graph" + (
        f" (trained constants {', '.join(trained)} compared by dtype and shape)"
        if trained else ""))
    return 0


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
