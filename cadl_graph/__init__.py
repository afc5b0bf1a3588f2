"""cadl_graph: the graphs of CADL Session 3, op for op, in TensorFlow's v1 graph mode.

The package, one folder per concern, lowest layer first. A module imports only the base
modules, modules of its own folder, and folders listed above its own (tests/test_package_map.py
holds this map against the code, and each folder's own docstring lists its modules):

  base       errors, fileio, shapes,     the package's errors, atomic writes, shape text,
             compat, graphfile,          TensorFlow's v1 graph mode imported in one place,
             untrusted, cli              graph files read strictly, the ops of a graph from
                                         elsewhere that reach outside it, what every command
                                         shares
  data/      MNIST from verified files, and the course's Dataset (no TensorFlow)
  viz/       montages, PNGs, GIFs, and the figures of trained models
  graphs/    the course's layers, the lecture's graphs and the course's VAE, by name
  golden/    golden op listings, any two graphs compared, the pytest plugin
  training/  the training loop, its run folder, scoring, checkpoints, clusters
  export/    frozen GraphDefs from checkpoints; summarize and run them
  teach/     every op explained by what made it, and drawn; a page per graph; Out[48]'s
             renames; measured lessons
  lecture/   the whole lecture, end to end, and its report
  bench/     speed beside a bare loop, Keras 3 and PyTorch
  commands/  the command lines (`cadl-graph COMMAND`; scripts/ holds their thin mains)

Importing the package imports no TensorFlow; the data modules never do.
"""

__version__ = "0.1.0"
