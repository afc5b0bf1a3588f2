"""Runs the CADL Session 3 lecture end to end and writes its pictures to one folder.

This is the project's main job (`make lecture`): the data cells, every model trained with
the lecture's recipe (checkpoints and pictures in <out_dir>/<model>), the inspection and
checkpoint cells, and <out_dir>/REPORT.md with the lecture's printed numbers beside ours.
Rerunning resumes from the checkpoints already in --out_dir.

Examples:
  cadl-graph lecture                      # about 10 minutes on 2 cores
  cadl-graph lecture --quick --out_dir=/tmp/lecture   # every step, briefly
  cadl-graph lecture --out_dir=runs/seed1 --seed=1
  cadl-graph lecture --data_dir=/path/to/mnist
"""


from absl import flags

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
    loader = cli.optional_file("loader")
    return cli.run(lambda: lecture.run_lecture(FLAGS.out_dir, data_dir=FLAGS.data_dir,
                                               seed=FLAGS.seed, quick=FLAGS.quick,
                                               loader=loader))


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
