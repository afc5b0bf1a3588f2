"""Trains one model with several seeds and prints the spread of its held-out metric.

The conv classifier's stddev-1.0 initialisation makes its result depend strongly on the seed;
this measures by how much. Each seed reshuffles the data split and redraws the initial weights.
Runs live in <out_dir>/seed<N> and resume like scripts/train.py runs.

Examples:
  python scripts/seed_spread.py --model=conv_classifier --seeds=0,1,2,3,4
  python scripts/seed_spread.py --model=linear_classifier --seeds=0,1,2 --epochs=1
  python scripts/seed_spread.py --hparam=init_stddev=0.1 --epochs=3 --out_dir=runs/seeds-0.1
"""

from absl import app, flags, logging

from cadl_graph import checkpoints, cli, registry, sources
from cadl_graph.train import TrainError, train_seeds

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "conv_classifier", registry.NAMES, "Registry model to train.")
flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Comma-separated seeds.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the lecture's).", lower_bound=0)
flags.DEFINE_string("out_dir", "runs/seeds", "Parent folder of the per-seed train dirs.")
flags.DEFINE_string("data_dir", None, "MNIST folder tried before the cache.")
flags.DEFINE_multi_string("hparam", [], "NAME=VALUE (JSON) overriding a registry "
                          "hyperparameter, e.g. --hparam=init_stddev=0.1.")
flags.register_validator("seeds", lambda seeds: all(s.isdigit() for s in seeds),
                         message="--seeds must be non-negative integers, e.g. 0,1,2")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        hparams = cli.parse_assignments(FLAGS.hparam, "hparam")
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    try:
        train_seeds(FLAGS.model, [int(s) for s in FLAGS.seeds], FLAGS.out_dir,
                    epochs=FLAGS.epochs, data_dir=FLAGS.data_dir, hparams=hparams)
    except (TrainError, checkpoints.CheckpointError, sources.FetchError, ValueError,
            OSError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)
