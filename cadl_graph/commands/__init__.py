"""cadl-graph COMMAND [flags]: the project's command lines, installed with the package.

  lecture          the whole CADL Session 3 lecture, end to end, with its report
  train            one registry model trained the lecture's way, resumable
  local_cluster    the same training with a ps and worker processes on this machine
  seed_spread      one model trained with several seeds: the spread of its metric
  export_graph     a checkpoint frozen into a GraphDef (.pb) that C++ TensorFlow runs
  build_loader     the C++ loader compiled against this TensorFlow: exports run from C++
  summarize_graph  what a GraphDef holds (inputs, outputs, ops), and run it on images
  diff_graph       two graphs (or a graph and a golden) compared op by op
  dump_graph       a registry model's graph: its golden lines, pbtxt or devices
  explain_graph    every op of a registry graph, grouped by the code that made it
  batch_norm_flaw  the course's batch norm moving its averages at inference, measured
  fetch_mnist      MNIST fetched and verified by SHA-256
  benchmark        training and scoring speed beside a bare loop, Keras 3 and PyTorch

`cadl-graph COMMAND --help` lists a command's flags. Each command is also
`python -m cadl_graph.commands.COMMAND` and, in a checkout, `python scripts/COMMAND.py`; all
three take the same flags. Every command module defines its absl flags when it is imported, so
only the chosen one is imported (two commands define --model).
"""

import importlib
import re
import sys
from pathlib import Path

import cadl_graph
from cadl_graph.errors import Error

NAMES = re.findall(r"^  (\w+) ", __doc__, re.M)


def main(argv=None):
    """`cadl-graph COMMAND [flags]`: runs COMMAND's absl main with the remaining arguments."""
    argv = sys.argv if argv is None else argv
    program = Path(argv[0]).name
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(__doc__.replace("cadl-graph", program, 1), end="")
        return 0 if len(argv) > 1 else 2
    if argv[1] == "--version":
        print(f"{program} {cadl_graph.__version__}")
        return 0
    if argv[1] not in NAMES:
        print(f"{program}: {argv[1]!r} is not a command; the commands are: {', '.join(NAMES)} "
              f"({program} --help says what each does)", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(f"cadl_graph.commands.{argv[1]}")
    except Error as e:  # no TensorFlow: one line that says how to install it
        print(f"{program} {argv[1]}: {e}", file=sys.stderr)
        return 1
    sys.argv = [f"{program} {argv[1]}", *argv[2:]]
    return module.run()
