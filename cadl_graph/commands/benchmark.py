"""Measures training and scoring speed: this project's loop beside a bare graph-mode loop,
Keras 3 and PyTorch, and the frozen exports from Python and C++; writes RESULTS.md.

One fresh process per figure, implementations interleaved round by round, medians with
min-max, ratios to the bare loop and the best peer, the share of the machine's float32 matmul
rate, peak memory, and a check that each implementation's held-out metric improved. PyTorch is
measured when this interpreter or --torch_python has it (skipped, saying so, otherwise).

Examples:
  cadl-graph benchmark                          # make bench: all models, 3 rounds
  cadl-graph benchmark --quick --out_dir=/tmp/bench
  cadl-graph benchmark --models=conv_classifier,linear_classifier --rounds=5 \\
      --torch_python=/path/to/venv-with-torch/bin/python
"""

import importlib.util
import json
import sys

from absl import flags

from cadl_graph import cli
from cadl_graph.bench import benchmark
from cadl_graph.graphs import registry

FLAGS = flags.FLAGS
flags.DEFINE_string("out_dir", "runs/bench", "Where RESULTS.md, results.json and the plot go.")
flags.DEFINE_list("models", None, "Registry models to measure (default: all).")
flags.DEFINE_integer("rounds", 3, "Fresh-process measurements per figure.", lower_bound=1)
flags.DEFINE_bool("quick", False, "The linear classifier only, one round, a few steps.")
flags.DEFINE_string("torch_python", None, "An interpreter with torch, for the PyTorch peers "
                    "(default: this one, when it has torch).")
flags.DEFINE_string("loader", "build/load_graph", "The C++ loader (make cc builds it); the "
                    "default is skipped, with a note, when it has not been built.")
# A worker measures one thing in this process and prints it as JSON (used by the runs above).
flags.DEFINE_enum("worker", None, list(benchmark.TRAINERS) + list(benchmark.SCORERS),
                  "Internal: measure one implementation in this process.")
flags.DEFINE_string("model", None, "Internal, with --worker.")
flags.DEFINE_string("data", None, "Internal, with --worker.")
flags.DEFINE_integer("steps", None, "Internal, with --worker.")
flags.DEFINE_integer("batch_size", None, "Internal, with --worker.")
flags.register_validator(
    "models", lambda v: v is None or set(v) <= set(registry.NAMES),
    message=f"--models takes registry names: {', '.join(registry.NAMES)}")


def main(argv):
    cli.no_arguments(argv)
    if FLAGS.worker:
        print(json.dumps(benchmark.work(FLAGS.worker, FLAGS.model, FLAGS.data, FLAGS.steps,
                                        FLAGS.batch_size, FLAGS.loader)))
        return 0
    torch_python = FLAGS.torch_python or (
        sys.executable if importlib.util.find_spec("torch") else None)
    if torch_python is None:
        print("PyTorch is not installed here; its peers are skipped (--torch_python=PATH)")
    loader = cli.optional_file("loader")
    if loader is None:
        print(f"C++ loader {FLAGS.loader} not built (make cc builds it); export_cpp is skipped")
    models = ["linear_classifier"] if FLAGS.quick and not FLAGS.models else FLAGS.models
    return cli.run(lambda: benchmark.measure(
        FLAGS.out_dir, models, 1 if FLAGS.quick else FLAGS.rounds, FLAGS.quick, torch_python,
        loader))


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
