"""Runs the CADL Session 3 lecture end to end and writes its pictures to one folder.

This is the project's main job (`make lecture`): the data cells, every model trained with
the lecture's recipe (checkpoints and pictures in <out_dir>/<model>), the inspection and
checkpoint cells, and <out_dir>/REPORT.md with the lecture's printed numbers beside ours.
Rerunning resumes from the checkpoints already in --out_dir.

Examples:
  python scripts/lecture.py                      # about 10 minutes on 2 cores
  python scripts/lecture.py --quick --out_dir=/tmp/lecture   # every step, briefly
  python scripts/lecture.py --out_dir=runs/seed1 --seed=1
  python scripts/lecture.py --data_dir=/path/to/mnist
"""

from absl import app, flags

from cadl_graph import cli, lecture, sources

FLAGS = flags.FLAGS
flags.DEFINE_string("out_dir", "runs/lecture", "Folder for the pictures (created if missing).")
flags.DEFINE_string(
    "data_dir", None,
    f"Folder with the four MNIST IDX files (raw or .gz), tried before the cache "
    f"(default: ${sources.DATA_DIR_ENV}).")
flags.DEFINE_integer("seed", 0, "Seeds the data shuffle and the initialisers.", lower_bound=0)
flags.DEFINE_bool("quick", False, "Train each model 2 epochs on 3000 images (a smoke test).")


def main(argv):
    cli.no_arguments(argv)
    return cli.run(lambda: lecture.run(FLAGS.out_dir, data_dir=FLAGS.data_dir, seed=FLAGS.seed,
                                       quick=FLAGS.quick))


if __name__ == "__main__":
    app.run(main)
