"""Exports a trained checkpoint for inference: a frozen GraphDef (.pb) or a SavedModel.

The lecture's recipe: restore, convert_variables_to_constants, extract_sub_graph, write_graph.
The exported graph takes raw pixels in a placeholder `X` [?, 784] and returns `Y`; auxiliary
placeholders (phase_train, keep_prob, corrupt_prob) are bound to their inference values, and
the autoencoders' mean subtraction is baked in. A signature <output>.json is written beside it.

--format=saved_model writes the same graph as a SavedModel folder (tag `serve`, signatures
serving_default X -> Y, and for models with a code encode X -> Z and decode Z -> Y) for
TensorFlow Serving, saved_model_cli, TF2's tf.saved_model.load and C++'s LoadSavedModel; its
signature is assets.extra/cadl_graph.json inside it.

The VAEs' exports sample, as the course's graph does (z = z_mu + epsilon * sigma: two runs on
one input differ); --deterministic decodes the code's mean instead (z = z_mu), and the
denoising autoencoder's encoder reads the clean input.

Examples:
  cadl-graph export_graph --checkpoint=runs/lecture/conv_classifier --output=cc.pb
  cadl-graph export_graph --checkpoint=runs/lecture/conv_classifier --format=saved_model \\
      --output=cc_saved_model
  cadl-graph export_graph --checkpoint=runs/lecture/vae --deterministic --output=vae.pb
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
flags.DEFINE_string("output", None, "Path of the .pb to write (and .json beside it), or with "
                    "--format=saved_model of the SavedModel folder.")
flags.DEFINE_enum("format", "frozen", freeze.FORMATS,
                  "frozen: one GraphDef file, the lecture's format; saved_model: a SavedModel "
                  "folder with signatures.")
flags.DEFINE_bool("deterministic", False, "Replace random draws by their centre: a VAE decodes "
                  "z = z_mu, the denoising autoencoder encodes the clean input (the course's "
                  "graphs sample).")
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
                                  bind=bindings, output_format=FLAGS.format,
                                  deterministic=FLAGS.deterministic)
        inputs = ", ".join(f"{t['name']} {t['shape']}" for t in signature["inputs"])
        outputs = ", ".join(f"{t['name']} {t['shape']}" for t in signature["outputs"])
        print(f"wrote {FLAGS.output}: {signature['model']} ({signature['part']}) at step "
              f"{signature['step']}, inputs {inputs}, outputs {outputs}")
        if signature.get("format") == "saved_model":
            print("signatures: " + "; ".join(
                f"{key} {', '.join(s['inputs'])} -> {', '.join(s['outputs'])}"
                for key, s in signature["signatures"].items()))
        print("samples: " + (", ".join(signature["random_ops"]) + " draw random numbers "
                             "(outputs vary from run to run)" if signature["random_ops"] else
                             "no (the same input gives the same output)"))

    return cli.run(job)


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__, required=["checkpoint", "output"])


if __name__ == "__main__":
    run()
