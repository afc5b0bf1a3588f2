"""Trains one model with several seeds and prints the spread of its held-out metric.

The conv classifier's stddev-1.0 initialisation makes its result depend strongly on the seed;
this measures by how much. Each seed reshuffles the data split and redraws the initial weights.
Runs live in <out_dir>/seed<N> and resume like cadl-graph train runs.

Examples:
  cadl-graph seed_spread --model=conv_classifier --seeds=0,1,2,3,4
  cadl-graph seed_spread --model=linear_classifier --seeds=0,1,2 --epochs=1
  cadl-graph seed_spread --hparam=init_stddev=0.1 --epochs=3 --out_dir=runs/seeds-0.1
"""

from absl import flags

from cadl_graph import cli
from cadl_graph.graphs import registry
from cadl_graph.training.seeds import train_seeds

FLAGS = cli.define_hparam()
cli.define_data_dir()
flags.DEFINE_enum("model", "conv_classifier", registry.NAMES, "Registry model to train.")
flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Comma-separated seeds.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the lecture's).", lower_bound=0)
flags.DEFINE_string("out_dir", "runs/seeds", "Parent folder of the per-seed train dirs.")
flags.register_validator("seeds", lambda seeds: bool(seeds) and all(s.isdigit() for s in seeds),
                         message="--seeds must be non-negative integers, e.g. 0,1,2")


def main(argv):
    cli.no_arguments(argv)
    hparams = cli.hparams()
    return cli.run(lambda: train_seeds(FLAGS.model, [int(s) for s in FLAGS.seeds], FLAGS.out_dir,
                                       epochs=FLAGS.epochs, data_dir=FLAGS.data_dir,
                                       hparams=hparams))


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
