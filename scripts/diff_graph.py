"""Compares two TF1 graphs op by op, as the golden tests do; exit 1 when they differ.

Each graph is a binary or text GraphDef (.pb, .pbtxt), a Saver's .meta, a golden file (.txt)
or a registry model's name. Ops are compared by name, type, output shapes, inputs, the
attributes that define them and small constant values; the differences are listed by scope.
Exit status: 0 the same, 1 different, 2 an input that cannot be read.

Examples:
  python scripts/diff_graph.py conv_autoencoder golden/conv_autoencoder.ops.txt
  python scripts/diff_graph.py old.pb new.pb --ignore=gradients --ignore='*/Adam*'
  python scripts/diff_graph.py runs/train/vae/model.ckpt-100.meta vae --ignore=save
"""
from absl import app, flags

from cadl_graph import cli
from cadl_graph.golden import graphdiff

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("ignore", [], "Drop ops before comparing: a scope (gradients, "
                          "save/) or an fnmatch pattern of op names (*/Adam*). Repeatable.")


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("give two graphs: diff_graph.py A B (a .pb, .pbtxt, .meta, a "
                             "golden .txt or a registry model name)")
    report = []
    status = cli.run(lambda: report.extend(graphdiff.compare(argv[1], argv[2], FLAGS.ignore)),
                     error_status=2)
    if status:
        return status
    print("\n".join(report) if report else f"{argv[1]} and {argv[2]}: the same graph")
    return 1 if report else 0


if __name__ == "__main__":
    app.run(main)
