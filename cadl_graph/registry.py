"""Every graph of the project by name, with the lecture's hyperparameters as defaults.

Scripts and tests go through here:

    from cadl_graph import registry
    with tf.Graph().as_default():
        model = registry.build("conv_autoencoder")          # the lecture's graph
        model = registry.build("vae", learning_rate=0.01)    # with an override

`training` holds what a training loop needs besides the graph (the lecture's epochs, batch
size, data split and what to feed); the graph itself depends only on `hparams`.
"""

import dataclasses
import functools
from typing import Callable

from cadl_graph import autoencoders, classifiers
from cadl_graph.compat import tf
from cadl_graph.model import Model
from cadl_graph.vae import vae_model


@dataclasses.dataclass(frozen=True)
class Spec:
    """A registry entry.

    Attributes:
      name: the registry name (also the golden's file name).
      build: builds the graph into the default graph from keyword hyperparameters.
      hparams: the lecture's hyperparameters, passed to `build` unless overridden.
      kind: "autoencoder", "classifier" or "vae" (how it is trained and scored).
      cells: which lecture cells (or upstream code) the graph reproduces.
      training: epochs, batch_size and split of the lecture's training run.
      inference: hyperparameters that rebuild the same variables into a graph whose inference
        runs change no state; scores and pictures are computed in that graph. Empty when the
        model's own graph already changes nothing at inference.
    """

    name: str
    build: Callable[..., Model]
    hparams: dict
    kind: str
    cells: str
    training: dict
    inference: dict = dataclasses.field(default_factory=dict)


def lecture_sequence(learning_rate=0.001):
    """The graph of Out[48]: the conv autoencoder's cells, then the linear classifier's, in ONE
    graph with no reset between, hence `Placeholder_1`, `gradients_1`, `Adam_1`, `init_1`.

    Returns:
      the linear classifier's Model (the last cells), with the autoencoder's handles among its
      end points under "autoencoder/...".
    """
    autoencoder = autoencoders.conv_autoencoder(learning_rate=learning_rate)
    classifier = classifiers.linear_classifier(learning_rate=learning_rate)
    end_points = {f"autoencoder/{k}": v for k, v in autoencoder.end_points.items()}
    end_points.update({"autoencoder/x": autoencoder.x, "autoencoder/y": autoencoder.y,
                       "autoencoder/init": autoencoder.init_op, **classifier.end_points})
    return dataclasses.replace(classifier, name="lecture_sequence", end_points=end_points,
                               hparams=dict(learning_rate=learning_rate))


# The VAE presets build the course's batch norm, whose moving-average update also runs at
# inference; they are scored in the repaired variant, which has the same variables (see
# cadl_graph.batch_norm).
_REPAIRED_BN = dict(batch_norm_update="in_cond")
_VAE_FC = dict(input_shape=[None, 784], n_filters=[512, 256], n_hidden=64, n_code=2,
               activation="sigmoid", convolutional=False, batch_norm_update="course")
# The lecture trained its tied autoencoders on all 70000 images and printed no validation
# numbers; 90% keeps nearly its steps per epoch and still leaves a held-out test split.
_AE_TRAINING = dict(epochs=5, batch_size=100, split=[0.9, 0.0, 0.1])
_VAE_TRAINING = dict(epochs=10, batch_size=200, split=[0.8, 0.1, 0.1])

SPECS = [
    Spec("fc_autoencoder", autoencoders.fc_autoencoder,
         dict(dimensions=[512, 256, 128, 64], learning_rate=0.001),
         "autoencoder", "In[10]-[19]", _AE_TRAINING),
    Spec("conv_autoencoder", autoencoders.conv_autoencoder,
         dict(n_filters=[16, 16, 16], filter_sizes=[4, 4, 4], learning_rate=0.001),
         "autoencoder", "In[23]-[30]", _AE_TRAINING),
    Spec("linear_classifier", classifiers.linear_classifier, dict(learning_rate=0.001),
         "classifier", "In[41]-[47]", dict(epochs=5, batch_size=50, split=[0.8, 0.1, 0.1])),
    Spec("conv_classifier", classifiers.conv_classifier,
         dict(learning_rate=0.001, init_stddev=1.0),
         "classifier", "In[54]-[65]", dict(epochs=10, batch_size=50, split=[0.8, 0.1, 0.1])),
    Spec("lecture_sequence", lecture_sequence, dict(learning_rate=0.001),
         "classifier", "In[23]-[30] then In[41]-[47] (Out[48])",
         dict(epochs=5, batch_size=50, split=[0.8, 0.1, 0.1])),
    Spec("vae", functools.partial(vae_model, "vae"),
         dict(variational=True, learning_rate=0.02, **_VAE_FC),
         "vae", "upstream VAE, MNIST recipe", _VAE_TRAINING, _REPAIRED_BN),
    Spec("conv_vae", functools.partial(vae_model, "conv_vae"),
         dict(input_shape=[None, 784], n_filters=[64, 64, 64],
              filter_sizes=[4, 4, 4], n_hidden=32, n_code=2, activation="tanh",
              convolutional=True, variational=True, learning_rate=1e-4,
              batch_norm_update="course"),
         "vae", "upstream VAE defaults, convolutional + variational",
         dict(epochs=10, batch_size=100, split=[0.8, 0.1, 0.1]), _REPAIRED_BN),
    Spec("denoising_autoencoder", functools.partial(vae_model, "denoising_autoencoder"),
         dict(denoising=True, variational=False,
              learning_rate=0.02, **_VAE_FC),
         "vae", "upstream VAE, MNIST recipe, denoising instead of variational", _VAE_TRAINING,
         _REPAIRED_BN),
]
REGISTRY = {spec.name: spec for spec in SPECS}
NAMES = tuple(REGISTRY)

# Named departures from the course's graphs, each pinned by its own golden
# (`golden/<model>.<variant>.ops.txt`) for every model that has the hyperparameters it sets.
VARIANTS = {"bn_in_cond": _REPAIRED_BN}


def get(name):
    """The Spec called `name`; a ValueError lists the known names otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(NAMES)}")
    return REGISTRY[name]


def hparams(name, **overrides):
    """The hyperparameters `build(name, **overrides)` would use."""
    spec = get(name)
    unknown = sorted(set(overrides) - set(spec.hparams))
    if unknown:
        raise ValueError(
            f"{name} has no hyperparameter {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(spec.hparams))}")
    return {**spec.hparams, **overrides}


def inference_hparams(name, **overrides):
    """The hyperparameters of `name`'s inference graph: `hparams(...)` with `Spec.inference`."""
    return {**hparams(name, **overrides), **get(name).inference}


def variants(name):
    """The VARIANTS that apply to model `name` (those whose hyperparameters it has)."""
    return [v for v, values in VARIANTS.items() if set(values) <= set(get(name).hparams)]


def build(name, **overrides):
    """Builds model `name` into the default graph and returns its Model.

    Raises:
      ValueError: unknown model or hyperparameter.
    """
    return get(name).build(**hparams(name, **overrides))


def build_in_new_graph(name, **overrides):
    """Builds model `name` into a fresh tf.Graph; returns the Model (its `.graph`)."""
    with tf.Graph().as_default():
        return build(name, **overrides)
