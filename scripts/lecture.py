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

from pathlib import Path

from absl import app, flags

from cadl_graph import cli
from cadl_graph.lecture import job as lecture

FLAGS = cli.define_data_dir()
flags.DEFINE_string("out_dir", "runs/lecture", "Folder for the pictures (created if missing).")
flags.DEFINE_integer("seed", 0, "Seeds the data shuffle and the initialisers.", lower_bound=0)
flags.DEFINE_bool("quick", False, "Train each model 2 epochs on 3000 images (a smoke test).")
flags.DEFINE_string("loader", "build/load_graph",
                    "The C++ loader (make cc builds it) that scores the exported graph; the "
                    "default is skipped, with a note, when it has not been built.")


def main(argv):
    cli.no_arguments(argv)
    loader = FLAGS.loader
    if not FLAGS["loader"].present and not Path(loader).is_file():
        loader = None  # the default, not built: say so and skip
    return cli.run(lambda: lecture.run_lecture(FLAGS.out_dir, data_dir=FLAGS.data_dir,
                                               seed=FLAGS.seed, quick=FLAGS.quick,
                                               loader=loader))


if __name__ == "__main__":
    app.run(main)
