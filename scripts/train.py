"""Trains a registry model on MNIST the lecture's way, with resumable checkpoints.

Defaults are the lecture's recipe for the model (epochs, batch size, learning rate). Each epoch
prints what the lecture printed, plus images per second; the end reports the held-out test
split. Checkpoints go to --train_dir every --save_every_steps steps and at the end; running
the same command again resumes from the latest one. Pictures land in <train_dir>/pictures.

Examples:
  python scripts/train.py --model=conv_autoencoder --train_dir=runs/train/cae
  python scripts/train.py --model=linear_classifier --epochs=1 --logdir=runs/tb/linear
  python scripts/train.py --model=vae --max_steps=200 --train_dir=/tmp/vae
  python scripts/train.py --model=conv_classifier --hparam=init_stddev=0.1
  python scripts/train.py --model=vae --hparam='batch_norm_update="in_cond"'
  tensorboard --logdir=runs/tb
"""

import math

from absl import app, flags

from cadl_graph import cli, registry, train

FLAGS = cli.define_hparam()
cli.define_data_dir()
flags.DEFINE_enum("model", None, registry.NAMES, "Registry model to train.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the lecture's for the model).",
                     lower_bound=0)
flags.DEFINE_integer("batch_size", None, "Batch size (default: the lecture's).", lower_bound=1)
flags.DEFINE_float("learning_rate", None, "Adam's learning rate (default: the lecture's); the "
                   "same as --hparam=learning_rate=VALUE.")
flags.DEFINE_integer("seed", 0, "Seeds data shuffling and initialisation.", lower_bound=0)
flags.DEFINE_string("train_dir", None,
                    "Checkpoints, run.json and pictures (default: runs/train/<model>).")
flags.DEFINE_integer("max_steps", None, "Stop at this global step (short runs).",
                     lower_bound=0)
flags.DEFINE_integer("save_every_steps", train.SAVE_EVERY_STEPS, "Checkpoint period in steps.",
                     lower_bound=1)
flags.DEFINE_string("logdir", None, "TensorBoard event folder (graph and scalars).")
flags.DEFINE_bool("pictures", True, "Draw reconstructions, weights and manifolds.")
flags.register_validator("learning_rate", lambda v: v is None or (math.isfinite(v) and v > 0),
                         message="--learning_rate must be a finite number > 0")


def main(argv):
    cli.no_arguments(argv)
    hparams = cli.hparams()
    if FLAGS.learning_rate is not None:
        if hparams.get("learning_rate", FLAGS.learning_rate) != FLAGS.learning_rate:
            raise app.UsageError(f"--learning_rate={FLAGS.learning_rate} and "
                                 f"--hparam=learning_rate={hparams['learning_rate']} disagree; "
                                 "give one")
        hparams["learning_rate"] = FLAGS.learning_rate
    config = train.TrainConfig(
        model=FLAGS.model, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, seed=FLAGS.seed,
        train_dir=FLAGS.train_dir, data_dir=FLAGS.data_dir, max_steps=FLAGS.max_steps,
        save_every_steps=FLAGS.save_every_steps, logdir=FLAGS.logdir, pictures=FLAGS.pictures,
        hparams=hparams)
    return cli.run(lambda: train.train(config))


if __name__ == "__main__":
    flags.mark_flag_as_required("model")
    app.run(main)
