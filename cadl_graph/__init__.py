"""cadl_graph: the graphs of CADL Session 3, op for op, in TensorFlow's v1 graph mode.

The package map, lowest layer first. A module imports only from its own layer or the layers
below it (tests/test_layers.py checks this against the code):

  base      errors, fileio, shapes,         the package's errors, atomic writes, shape text,
            compat                          TensorFlow v1 graph mode imported in one place
  data      idx, sources, datasets          IDX files, verified MNIST, the course's Dataset
  pictures  images, gif, figures            montages, PNGs, GIFs, figures of trained models
  layers    utils, batch_norm,              the course's layers (its batch norm and the
            hparam_types                    repaired variant); hyperparameter types
  graphs    model, autoencoders,            the lecture's graphs and the course's VAE, by name
            classifiers, vae, registry      in the registry, with the lecture's values
  files     checkpoints, summarize,         Saver checkpoints; GraphDef files: summarize, run;
            predict, golden, graphdiff,     golden op listings and any two graphs compared;
            renames                         Out[48] rename rules
  scoring   scoring, kinds, lessons         held-out scores in an inference copy of a graph;
                                            how each kind of model is fed, scored and drawn;
                                            measured lessons (the batch-norm flaw)
  runs      rundir, cluster, train, seeds,  the run folder; training across processes (TF's
            export, explain                 gRPC runtime); the training loop; seed sweeps;
                                            frozen exports; every op explained by its maker
  jobs      lecture, cli, pytest_plugin,    the lecture end to end; what every script shares;
            benchmark, peers, launcher      the graph_golden fixture for anyone's graph; speed
                                            beside Keras 3 and PyTorch twins of the models; a
                                            whole cluster on this machine

Importing the package imports no TensorFlow; the data modules never do.
"""

__version__ = "0.1.0"

LAYERS = (
    ("base", ("errors", "fileio", "shapes", "compat")),
    ("data", ("idx", "sources", "datasets")),
    ("pictures", ("images", "gif", "figures")),
    ("layers", ("utils", "batch_norm", "hparam_types")),
    ("graphs", ("model", "autoencoders", "classifiers", "vae", "registry")),
    ("files", ("checkpoints", "summarize", "predict", "golden", "graphdiff", "renames")),
    ("scoring", ("scoring", "kinds", "lessons")),
    ("runs", ("rundir", "cluster", "train", "seeds", "export", "explain")),
    ("jobs", ("lecture", "cli", "pytest_plugin", "benchmark", "peers", "launcher")),
)
