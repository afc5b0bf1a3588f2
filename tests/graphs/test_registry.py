"""The registry owns the lecture's values: names, hyperparameters, recipes, variants."""

import pytest

from cadl_graph.compat import tf
from cadl_graph.errors import ConfigError
from cadl_graph.golden import listing
from cadl_graph.graphs import registry
from cadl_graph.graphs.hparam_types import HparamError


def test_registry_rejects_unknown_names_and_hyperparameters():
    with pytest.raises(ValueError, match="known models: fc_autoencoder"):
        registry.get("resnet")
    with pytest.raises(HparamError, match="depth: no such hyperparameter"):
        registry.hparams("vae", depth=3)
    assert registry.hparams("vae", learning_rate=0.01)["learning_rate"] == 0.01


@pytest.mark.parametrize("name, overrides, message", [
    ("conv_classifier", {"init_stddev": "x"}, "init_stddev='x': must be a finite number > 0"),
    ("conv_autoencoder", {"n_filters": -3}, "n_filters=-3: must be a non-empty list of integers"),
    ("conv_autoencoder", {"n_filters": None}, "n_filters=None: must be a non-empty list"),
    ("conv_autoencoder", {"n_filters": [1.5, 16, 16]}, "n_filters=[1.5, 16, 16]: must be"),
    ("conv_autoencoder", {"filter_sizes": [4, 4]}, "needs a filter size per layer"),
    ("vae", {"learning_rate": float("nan")}, "learning_rate=nan: must be a finite number > 0"),
    ("vae", {"learning_rate": 0}, "learning_rate=0: must be a finite number > 0"),
    ("vae", {"activation": "softplus"}, "activation='softplus': must be one of 'sigmoid'"),
    ("vae", {"batch_norm_update": "outside"}, "must be one of 'course', 'in_cond'"),
    ("vae", {"n_code": 2.0}, "n_code=2.0: must be an integer >= 1"),
    ("denoising_autoencoder", {"variational": "yes"}, "variational='yes': must be true or false"),
])
def test_bad_hyperparameters_are_refused_before_building(name, overrides, message):
    with tf.Graph().as_default() as graph, pytest.raises(HparamError) as err:
        registry.build(name, **overrides)
    assert message in str(err.value)
    assert graph.get_operations() == []  # refused before the first op


def test_whole_numbers_are_accepted_where_a_float_is_asked_for():
    assert registry.hparams("vae", learning_rate=1)["learning_rate"] == 1


def test_only_the_tied_autoencoders_are_fed_x_minus_the_mean():
    # In[20]/[30] train on `batch - mean_img`; every other model of the lecture sees raw pixels.
    fed_centered = {name for name in registry.NAMES if registry.get(name).subtracts_mean}
    assert fed_centered == {"fc_autoencoder", "conv_autoencoder"}


def test_every_spec_names_a_kind_its_cells_and_a_split_that_adds_up():
    from cadl_graph.training import kinds
    for name in registry.NAMES:
        spec = registry.get(name)
        assert spec.kind in kinds.KINDS, name
        assert spec.cells and spec.epochs >= 1 and spec.batch_size >= 1, name
        assert sum(spec.split) == pytest.approx(1.0), name


def test_a_variant_applies_only_to_models_with_its_hyperparameters():
    assert registry.variants("vae") == ["bn_in_cond"]
    assert registry.variants("linear_classifier") == []
    assert registry.variant_hparams("vae", "bn_in_cond") == {"batch_norm_update": "in_cond"}
    assert registry.variant_hparams("vae", None) == {}
    with pytest.raises(ConfigError, match="does not apply to linear_classifier"):
        registry.variant_hparams("linear_classifier", "bn_in_cond")
    with pytest.raises(ConfigError, match="unknown variant 'fast'"):
        registry.variant_hparams("vae", "fast")


def test_minimize_is_not_a_hyperparameter_but_reaches_the_training_cell():
    with pytest.raises(HparamError, match="minimize: no such hyperparameter"):
        registry.hparams("linear_classifier", minimize=None)
    calls = []

    def minimize(optimizer, cost):
        calls.append((type(optimizer).__name__, cost.op.name))
        return optimizer.minimize(cost)

    with tf.Graph().as_default() as graph:
        registry.build("linear_classifier", minimize=minimize)
    assert calls == [("AdamOptimizer", "Neg")]
    # Minimizing the lecture's way through the argument builds the lecture's graph.
    assert listing.op_lines(graph) == listing.op_lines(
        registry.build_in_new_graph("linear_classifier").graph)


def test_inference_hparams_repair_the_batch_norm_of_the_vae_family_only():
    for name in registry.NAMES:
        inference = registry.inference_hparams(name)
        if registry.get(name).hparams.get("batch_norm_update") == "course":
            assert inference["batch_norm_update"] == "in_cond", name
        else:
            assert inference == registry.hparams(name), name
