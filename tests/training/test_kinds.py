"""Kinds own how a model's epochs are reported, which way its score improves, what it draws."""

import pytest

from cadl_graph.graphs import registry
from cadl_graph.training import kinds


def test_every_registry_model_has_a_kind_with_a_test_metric():
    for name in registry.NAMES:
        kind = kinds.of(name)
        assert kind.name == registry.get(name).kind
        assert kind.test_metric in ("test_accuracy", "test_cost")
    assert kinds.of("conv_classifier").test_metric == "test_accuracy"
    assert kinds.of("vae").test_metric == "test_cost"


@pytest.mark.parametrize("name, better, worse", [
    ("linear_classifier", 0.92, 0.91),   # accuracy: higher is better
    ("conv_autoencoder", 0.024, 0.025),  # cost: lower is better
    ("vae", 40.1, 42.0),
])
def test_better_knows_which_way_the_score_improves(name, better, worse):
    kind = kinds.of(name)
    assert kind.better(better, worse) and not kind.better(worse, better)


@pytest.mark.parametrize("name, record, line", [
    ("fc_autoencoder", dict(epoch=0, step=630, images_per_s=12345.6, last_batch_cost=0.0441059),
     "epoch 0 (step 630): cost 0.044106 (last batch), 12346 images/s"),
    ("linear_classifier", dict(epoch=4, step=5600, images_per_s=80000.0, valid_accuracy=0.913286),
     "epoch 4 (step 5600): valid accuracy 0.913286, 80000 images/s"),
    ("vae", dict(epoch=1, step=560, images_per_s=9000.0, train_cost=41.23456, valid_cost=None),
     "epoch 1 (step 560): train cost 41.2346, valid cost n/a, 9000 images/s"),
])
def test_an_epoch_line_says_what_the_lecture_printed(name, record, line):
    assert kinds.of(name).epoch_line(record) == line


def test_report_cells_and_curves_read_the_records():
    history = [dict(train_cost=50.0, valid_cost=48.5), dict(train_cost=45.25, valid_cost=44.0)]
    vae = kinds.of("vae")
    assert vae.report_cell(history[1]) == "train 45.25 / valid 44.00"
    assert vae.curves(history) == {"ours: train cost": [50.0, 45.25],
                                   "ours: valid cost": [48.5, 44.0]}
    classifier = kinds.of("conv_classifier")
    assert classifier.report_cell({"valid_accuracy": None}) == "n/a"
    assert kinds.fmt(0.5) == "0.500000" and kinds.fmt(None) == "n/a"


def test_only_the_reconstructing_kinds_draw_per_epoch_frames():
    assert not kinds.of("linear_classifier").reconstructs
    assert all(kinds.of(n).reconstructs for n in ("fc_autoencoder", "vae",
                                                   "denoising_autoencoder"))
    assert kinds.of("vae").averages_costs and not kinds.of("conv_autoencoder").averages_costs
