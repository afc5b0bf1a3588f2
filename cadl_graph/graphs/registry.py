"""Every graph of the project by name, with the lecture's hyperparameters.

Scripts and tests go through here:

    from cadl_graph.graphs import registry
    with tf.Graph().as_default():
        model = registry.build("conv_autoencoder")          # the lecture's graph
        model = registry.build("vae", learning_rate=0.01)    # with an override

This is the one place that holds the lecture's values: builders take their hyperparameters as
required keywords (their annotations say what each accepts, see `hparam_types`), and the
training recipe (epochs, batch size, split, whether inputs are centred on the mean image) sits
beside them. A Spec's `kind` names how the model's epochs are reported and which pictures it
draws (`cadl_graph.training.kinds`).
"""

import dataclasses
from typing import Callable

from cadl_graph.compat import tf
from cadl_graph.data.datasets import N_FEATURES
from cadl_graph.errors import ConfigError
from cadl_graph.graphs import autoencoders, classifiers, hparam_types
from cadl_graph.graphs.model import Model
from cadl_graph.graphs.sequence import lecture_sequence
from cadl_graph.graphs.vae import vae_model


@dataclasses.dataclass(frozen=True, kw_only=True)
class Spec:
    """A registry entry.

    Attributes:
      name: the registry name (also the golden's file name).
      build: builds the graph into the default graph from keyword hyperparameters.
      hparams: the lecture's hyperparameters, passed to `build` unless overridden.
      kind: how its epochs are reported and what is drawn: a key of
        `cadl_graph.training.kinds.KINDS`.
      cells: which lecture cells (or upstream code) the graph reproduces.
      epochs, batch_size, split: the lecture's training run ([train, valid, test] fractions).
      inference: hyperparameters that rebuild the same variables into a graph whose inference
        runs change no state; scores and pictures are computed in that graph. Empty when the
        model's own graph already changes nothing at inference.
      threads: (intra_op, inter_op) parallelism of the training session; 0 lets TensorFlow
        choose. Measured per model (docs/speed.md).
      subtracts_mean: the model is fed `x - mean_img` (mean over all of `ds.X`), as the
        lecture trained its tied autoencoders; training, scoring and exports read it here.
    """

    name: str
    build: Callable[..., Model]
    hparams: dict
    kind: str
    cells: str
    epochs: int
    batch_size: int
    split: tuple
    inference: dict = dataclasses.field(default_factory=dict)
    threads: tuple = (0, 0)
    subtracts_mean: bool = False


# The VAE presets build the course's batch norm, whose moving-average update also runs at
# inference; they are scored in the repaired variant, which has the same variables (see
# cadl_graph.graphs.batch_norm).
_REPAIRED_BN = dict(batch_norm_update="in_cond")
_VAE_FC = dict(input_shape=[None, N_FEATURES], n_filters=[512, 256], n_hidden=64, n_code=2,
               activation="sigmoid", convolutional=False, batch_norm_update="course")
# The lecture trained its tied autoencoders on all 70000 images and printed no validation
# numbers; 90% keeps nearly its steps per epoch and still leaves a held-out test split.
_AE_TRAINING = dict(epochs=5, batch_size=100, split=(0.9, 0.0, 0.1), subtracts_mean=True)
_CLASSIFIER_SPLIT = (0.8, 0.1, 0.1)
_VAE_TRAINING = dict(epochs=10, batch_size=200, split=(0.8, 0.1, 0.1))

SPECS = [
    Spec(name="fc_autoencoder", build=autoencoders.fc_autoencoder,
         hparams=dict(dimensions=[512, 256, 128, 64], learning_rate=0.001),
         kind="autoencoder", cells="In[10]-[19]", **_AE_TRAINING),
    Spec(name="conv_autoencoder", build=autoencoders.conv_autoencoder,
         hparams=dict(n_filters=[16, 16, 16], filter_sizes=[4, 4, 4], learning_rate=0.001),
         kind="autoencoder", cells="In[23]-[30]", **_AE_TRAINING),
    # Its steps are a few small ops: one thread per op and no parallel ops beat TensorFlow's
    # default thread pools by 1.4x on 2 cores (so for lecture_sequence, which trains it); every
    # other model is fastest with the default.
    Spec(name="linear_classifier", build=classifiers.linear_classifier,
         hparams=dict(learning_rate=0.001), kind="classifier", cells="In[41]-[47]",
         epochs=5, batch_size=50, split=_CLASSIFIER_SPLIT, threads=(1, 1)),
    # AdamOptimizer()'s default rate is 0.001; random_normal_initializer()'s stddev is 1.0.
    Spec(name="conv_classifier", build=classifiers.conv_classifier,
         hparams=dict(learning_rate=0.001, init_stddev=1.0), kind="classifier",
         cells="In[54]-[65]", epochs=10, batch_size=50, split=_CLASSIFIER_SPLIT),
    Spec(name="lecture_sequence", build=lecture_sequence, hparams=dict(learning_rate=0.001),
         kind="classifier", cells="In[23]-[30] then In[41]-[47] (Out[48])",
         epochs=5, batch_size=50, split=_CLASSIFIER_SPLIT, threads=(1, 1)),
    Spec(name="vae", build=vae_model,
         hparams=dict(variational=True, learning_rate=0.02, **_VAE_FC),
         kind="vae", cells="upstream VAE, MNIST recipe", inference=_REPAIRED_BN,
         **_VAE_TRAINING),
    Spec(name="conv_vae", build=vae_model,
         hparams=dict(input_shape=[None, N_FEATURES], n_filters=[64, 64, 64],
                      filter_sizes=[4, 4, 4], n_hidden=32, n_code=2, activation="tanh",
                      convolutional=True, variational=True, learning_rate=1e-4,
                      batch_norm_update="course"),
         kind="vae", cells="upstream VAE defaults, convolutional + variational",
         inference=_REPAIRED_BN, epochs=10, batch_size=100, split=(0.8, 0.1, 0.1)),
    Spec(name="denoising_autoencoder", build=vae_model,
         hparams=dict(denoising=True, variational=False, learning_rate=0.02, **_VAE_FC),
         kind="denoising", cells="upstream VAE, MNIST recipe, denoising instead of variational",
         inference=_REPAIRED_BN, **_VAE_TRAINING),
]
REGISTRY = {spec.name: spec for spec in SPECS}
NAMES = tuple(REGISTRY)

# Named departures from the course's graphs, each pinned by its own golden
# (`golden/<model>.<variant>.ops.txt`) for every model that has the hyperparameters it sets.
VARIANTS = {"bn_in_cond": _REPAIRED_BN}


def get(name):
    """The Spec called `name`.

    Raises:
      ConfigError: an unknown name; the message lists the known ones.
    """
    if name not in REGISTRY:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(NAMES)}")
    return REGISTRY[name]


def hparams(name, **overrides):
    """The hyperparameters `build(name, **overrides)` would use, checked.

    Raises:
      HparamError: an unknown hyperparameter, or a value of the wrong type or range.
    """
    spec = get(name)
    hparam_types.check(spec.build, overrides, name)
    values = {**spec.hparams, **overrides}
    hparam_types.check(spec.build, values, name)
    return values


def inference_hparams(name, **overrides):
    """The hyperparameters of `name`'s inference graph: `hparams(...)` with `Spec.inference`."""
    return {**hparams(name, **overrides), **get(name).inference}


def variants(name):
    """The VARIANTS that apply to model `name` (those whose hyperparameters it has)."""
    return [v for v, values in VARIANTS.items() if set(values) <= set(get(name).hparams)]


def variant_hparams(name, variant):
    """The hyperparameters that variant `variant` (a key of VARIANTS, or None) sets for `name`.

    Raises:
      ConfigError: an unknown variant, or one that does not apply to `name` (the model lacks
        the hyperparameters it sets).
    """
    if variant is None:
        return {}
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; known variants: {', '.join(VARIANTS)}")
    if variant not in variants(name):
        raise ConfigError(f"variant {variant} does not apply to {name}: it sets "
                          f"{', '.join(VARIANTS[variant])}, which {name} does not have")
    return dict(VARIANTS[variant])


def build(name, minimize=None, inputs=None, **overrides):
    """Builds model `name` into the default graph and returns its Model.

    Args:
      minimize: how the training cell minimizes (see `model.adam_minimize`); None is the
        lecture's `AdamOptimizer(rate).minimize(cost)`.
      inputs: tensors to build on instead of the placeholders ({role: tensor}, see
        `model.placeholder`); None builds the lecture's placeholders.
      overrides: hyperparameters that replace the lecture's.

    Raises:
      ConfigError: unknown model; HparamError: a bad hyperparameter.
    """
    model = get(name).build(minimize=minimize, inputs=inputs, **hparams(name, **overrides))
    return dataclasses.replace(model, name=name)


def build_in_new_graph(name, **overrides):
    """Builds model `name` into a fresh tf.Graph; returns the Model (its `.graph`)."""
    with tf.Graph().as_default():
        return build(name, **overrides)
