"""The plugin's GraphGolden.check: opaque= and ignore= narrow it, and misuse is refused."""

import pytest

from cadl_graph.compat import tf
from cadl_graph.golden.pytest_plugin import GraphGolden


def _graph(weights=1.0, extra=False):
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.constant([[weights]] * 3, name="dense/w")
        tf.matmul(x, w, name="dense/y")
        tf.no_op(name="save/restore_all")
        if extra:
            tf.no_op(name="save/restore_shard")
    return graph


def _golden(tmp_path, update):
    return GraphGolden(tmp_path, update, "pytest --update-goldens")


def test_opaque_and_ignore_leave_out_what_they_name(tmp_path):
    _golden(tmp_path, True).check(_graph(), "g.ops.txt", opaque=["dense/w"], ignore=["save"])
    text = (tmp_path / "g.ops.txt").read_text()
    assert "value=<float32[3,1]>" in text and "save/" not in text
    # Other weights and another Saver op: the same golden.
    _golden(tmp_path, False).check(_graph(weights=2.0, extra=True), "g.ops.txt",
                                   opaque=["dense/*"], ignore=["save/"])
    with pytest.raises(pytest.fail.Exception, match="dense/w: value"):
        _golden(tmp_path, False).check(_graph(weights=2.0), "g.ops.txt", ignore=["save"])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(opaque="dense/w"), TypeError, r"opaque= takes a list .* write opaque=\['dense/w'\]"),
    (dict(ignore="save"), TypeError, r"ignore= takes a list"),
    (dict(opaque=["dense/W"]), ValueError, r"opaque= pattern\(s\) that match no op .*'dense/W'"),
    (dict(ignore=["gradients"]), ValueError, r"ignore= pattern\(s\) .*'gradients'"),
])
def test_a_bare_string_or_a_pattern_that_matches_nothing_is_refused(kwargs, error, message,
                                                                     tmp_path):
    with pytest.raises(error, match=message):
        _golden(tmp_path, True).check(_graph(), "g.ops.txt", **kwargs)
    assert not (tmp_path / "g.ops.txt").exists()
