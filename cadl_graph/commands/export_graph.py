"""Freezes a trained checkpoint into a GraphDef (.pb) that C++ TensorFlow can load and run.

The lecture's recipe: restore, convert_variables_to_constants, extract_sub_graph, write_graph.
The exported graph takes raw pixels in a placeholder `X` [?, 784] and returns `Y`; auxiliary
placeholders (phase_train, keep_prob, corrupt_prob) are bound to their inference values, and
the autoencoders' mean subtraction is baked in. A signature <output>.json is written beside it.

Examples:
  cadl-graph export_graph --checkpoint=runs/lecture/conv_classifier --output=cc.pb
  cadl-graph export_graph --checkpoint=runs/lecture/vae --part=decoder --output=dec.pb
  cadl-graph export_graph --checkpoint=runs/lecture/vae --part=encoder --output=enc.pb
  cadl-graph export_graph --checkpoint=runs/train/cae/model.ckpt-3150 \\
      --output_nodes=encoder/layer/2/Relu --output=codes.pb
  cadl-graph export_graph --checkpoint=runs/lecture/denoising_autoencoder \\
      --bind=Placeholder=1.0 --output=noisy.pb
"""

from absl import flags

from cadl_graph import cli
from cadl_graph.export import freeze
from cadl_graph.graphs import registry

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Checkpoint prefix or train folder (its latest).")
flags.DEFINE_string("output", None, "Path of the .pb to write (and .json beside it).")
flags.DEFINE_enum("model", None, registry.NAMES,
                  "Registry model, needed only when no run.json lies beside the checkpoint.")
flags.DEFINE_enum("part", "model", freeze.PARTS,
                  "model: X -> Y; encoder: X -> Z (the code's mean for VAEs); "
                  "decoder: Z -> Y.")
flags.DEFINE_list("output_nodes", None, "Op names to export instead of the part's output.")
flags.DEFINE_multi_string("bind", [], "NAME=VALUE: bind an auxiliary placeholder, e.g. "
                          "keep_prob=0.8 (JSON values: true, 1.0, [1.0]).")



def main(argv):
    cli.no_arguments(argv)
    bindings = cli.assignments(FLAGS.bind, "bind")

    def job():
        signature = freeze.export(FLAGS.checkpoint, FLAGS.output, model=FLAGS.model,
                                  part=FLAGS.part, output_nodes=FLAGS.output_nodes,
                                  bind=bindings)
        inputs = ", ".join(f"{t['name']} {t['shape']}" for t in signature["inputs"])
        outputs = ", ".join(f"{t['name']} {t['shape']}" for t in signature["outputs"])
        print(f"wrote {FLAGS.output}: {signature['model']} ({signature['part']}) at step "
              f"{signature['step']}, inputs {inputs}, outputs {outputs}")

    return cli.run(job)


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__, required=["checkpoint", "output"])


if __name__ == "__main__":
    run()
