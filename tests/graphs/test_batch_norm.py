"""The course's batch norm changes its moving averages at inference; the repaired one does not.

Both variants of a VAE preset have the same variables. The difference is where the moving-
average update lives: the course created it before the `tf.cond`, outside the cond's control-
flow context, and only referenced it by control dependency from the training branch's
`cond/Identity`. Ops outside a cond are not gated by its `Switch`, so they run whenever the cond
runs, at inference too.
"""

import numpy as np
import pytest

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.graphs.batch_norm import batch_norm
from cadl_graph.teach import lessons


@pytest.fixture(scope="module")
def flaw():
    """Both variants of the denoising autoencoder, inference three times on one batch."""
    images = np.random.default_rng(0).uniform(0, 1, (32, 784)).astype(np.float32)
    course, repaired = lessons.batch_norm_flaw(images, "denoising_autoencoder", runs=3)
    assert (course["update"], repaired["update"]) == ("course", "in_cond")
    return course, repaired


def test_where_the_update_lives(flaw):
    course, repaired = flaw
    assert course["waits_for"] == "encoder/0/bn0/ExponentialMovingAverage"
    assert repaired["waits_for"] == "encoder/0/bn0/cond/ExponentialMovingAverage"
    # An op created outside a cond has no control-flow context: no Switch gates it.
    assert course["outside_cond"] and not repaired["outside_cond"]
    assert [a.rsplit("/", 1)[1] for a in course["assigns"]] == ["AssignMovingAvg",
                                                                 "AssignMovingAvg_1"]


@pytest.mark.parametrize("name", ["vae", "conv_vae", "denoising_autoencoder"])
def test_both_variants_have_the_same_variables(name):
    def variables(update):
        graph = registry.build_in_new_graph(name, batch_norm_update=update).graph
        return [(v.op.name, v.shape.as_list())
                for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)]
    assert variables("course") == variables("in_cond")


def test_course_inference_moves_the_averages_and_changes_its_output(flaw):
    course, _ = flaw
    assert min(course["moved"]) > 0, "every inference run moves the averages"
    # Runs 1 and 3 read the averages at disjoint moments (around run 1's update and around
    # run 3's), so whichever way each race went, their outputs differ.
    assert course["output_change"][2] > 1e-6


def test_repaired_inference_changes_nothing(flaw):
    _, repaired = flaw
    assert repaired["moved"] == [0.0, 0.0, 0.0]
    assert repaired["output_change"] == [0.0, 0.0, 0.0]


def test_training_runs_update_the_averages_in_both_variants():
    for update in ("course", "in_cond"):
        with tf.Graph().as_default() as graph:
            x = tf.placeholder(tf.float32, [None, 3])
            phase_train = tf.placeholder(tf.bool)
            y = batch_norm(x, phase_train, update=update)
            averages = [v for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
                        if v.op.name.endswith("/ExponentialMovingAverage")]
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                sess.run(y, {x: [[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]], phase_train: True})
                mean, _ = sess.run(averages)
        np.testing.assert_allclose(mean, [0.02, 0.03, 0.04], rtol=1e-5)  # 0.01 * batch mean


def test_unknown_update_is_refused():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="course, in_cond"):
            batch_norm(tf.zeros([2, 3]), tf.constant(True), update="outside")
