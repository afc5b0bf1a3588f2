"""TensorFlow in graph mode, imported in exactly one place.

Every module of cadl_graph that needs TensorFlow writes

    from cadl_graph.compat import tf

and gets `tensorflow.compat.v1` with v2 behaviour disabled: placeholders, ref variables
(`VariableV2`, `W/Assign`, `W/read`), sessions and `tf.train` optimizers, as in the lecture.
Disabling v2 behaviour is process-wide and must happen before any graph is built, which is why
it lives here and runs at import.
"""

import os

# TensorFlow's C++ start-up chatter (CPU feature notices, oneDNN banners) would bury the
# lecture's printed numbers; a user who wants it can set the variable before importing us.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import logging  # noqa: E402

import tensorflow.compat.v1 as tf  # noqa: E402  (the environment must be set first)

# Every v1 symbol the lecture uses is deprecated in TF2; the resulting warnings say nothing a
# user of this package can act on, and would drown the lecture's output.
tf.get_logger().setLevel(logging.ERROR)

_graph_mode_enabled = False


def enable_graph_mode():
    """Disable TF2 behaviour once per process; later calls do nothing.

    Returns:
      The `tensorflow.compat.v1` module.
    """
    global _graph_mode_enabled
    if not _graph_mode_enabled:
        tf.disable_v2_behavior()
        _graph_mode_enabled = True
    return tf


enable_graph_mode()

__all__ = ["tf", "enable_graph_mode"]
