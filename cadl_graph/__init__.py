"""cadl_graph: the graphs of CADL Session 3, op for op, in TensorFlow's v1 graph mode.

Layers, lowest first (a module imports only from layers below it):

  data      idx, sources, datasets         IDX files, verified MNIST, the course Dataset
  pictures  images, gif, utils             montages, PNGs, GIFs (and later layers)
  graph     compat                         TensorFlow v1 graph mode, imported in one place
  jobs      lecture                        the lecture's cells, end to end

Importing the package imports no TensorFlow; the data modules never do.
"""

__version__ = "0.1.0"
