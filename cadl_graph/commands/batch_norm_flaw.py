"""Shows the course's batch-norm flaw: inference runs that change the model they score.

Builds a VAE preset with the course's batch norm and with the repaired one (the same
variables), runs inference (phase_train=False) several times on the same MNIST test images,
and prints which op the training branch waits for, whether it lives inside the tf.cond, how far
the moving averages moved after each run and how far the output moved.

Examples:
  cadl-graph batch_norm_flaw
  cadl-graph batch_norm_flaw --model=vae --checkpoint=runs/lecture/vae --runs=5
"""

from absl import flags

from cadl_graph import cli
from cadl_graph.data.datasets import MNIST
from cadl_graph.graphs import registry
from cadl_graph.teach import lessons

FLAGS = cli.define_data_dir()
flags.DEFINE_enum("model", "denoising_autoencoder", ["vae", "conv_vae", "denoising_autoencoder"],
                  "A registry model with batch norm.")
flags.DEFINE_string("checkpoint", None, "A trained checkpoint (prefix or train folder) to "
                    "restore into both variants; default: freshly initialised weights.")
flags.DEFINE_integer("runs", 3, "Inference runs on the same images.", lower_bound=2)
flags.DEFINE_integer("images", 100, "How many test images to feed.", lower_bound=1)


def main(argv):
    cli.no_arguments(argv)

    def job():
        images = MNIST(seed=0, data_dir=FLAGS.data_dir).X[-FLAGS.images:]
        results = lessons.batch_norm_flaw(images, FLAGS.model, FLAGS.checkpoint, FLAGS.runs)
        print(f"{FLAGS.model} ({registry.get(FLAGS.model).cells})")
        print("\n".join(lessons.format_batch_norm_flaw(results, len(images))))

    return cli.run(job)


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
