"""cadl_graph: the graphs of CADL Session 3, op for op, in TensorFlow's v1 graph mode.

Layers, lowest first (a module imports only from layers below it):

  data      idx, sources, datasets          IDX files, verified MNIST, the course Dataset
  pictures  fileio, images, gif             atomic writes, montages, PNGs, GIFs
  layers    compat, utils, batch_norm       TF v1 graph mode; the course's layers (the batch
                                            norm in the course's and the repaired variant)
  graphs    model, autoencoders,            the lecture's graphs and the course's VAE,
            classifiers, vae, registry      by name
  checks    golden, renames                 golden op listings; Out[48] rename rules
  jobs      lecture                         the lecture's cells, end to end

Importing the package imports no TensorFlow; the data modules never do.
"""

__version__ = "0.1.0"
