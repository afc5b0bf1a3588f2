"""TensorFlow in graph mode, imported in exactly one place.

Every module of cadl_graph that needs TensorFlow writes

    from cadl_graph.compat import tf

and gets `tensorflow.compat.v1` with v2 behaviour disabled: placeholders, ref variables
(`VariableV2`, `W/Assign`, `W/read`), sessions and `tf.train` optimizers, as in the lecture.
Disabling v2 behaviour is process-wide and must happen before any graph is built, which is why
it lives here and runs at import.

TensorFlow is not a dependency of the package, so that installing it keeps the build a user
already has (CPU or CUDA: `tensorflow` and `tensorflow-cpu` install the same files, and pip
would let one overwrite the other). Without any, importing this module raises
`MissingTensorFlow`, whose one line says how to choose. A version other than `RECORDED_WITH`
is named once per process, with what it affects.
"""

import importlib.util
import logging
import os
import re
import sys
import tempfile

from cadl_graph.errors import Error

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
VERBOSE_ENV = "CADL_GRAPH_TF_VERBOSE"
# Notices TensorFlow's C++ side prints at import whatever TF_CPP_MIN_LOG_LEVEL says; they
# would bury the lecture's printed numbers and need no action.
_IMPORT_NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|Could not find cuda drivers|"
    r"cpu_feature_guard|To enable the following instructions|appropriate compiler flags")


# The project's own goldens, the lecture's reference figures and the exports' GraphDef versions
# were recorded with this TensorFlow; `pip install cadl_graph[cpu]` installs exactly it.
RECORDED_WITH = "2.21.0"


class MissingTensorFlow(Error, ImportError):
    """No TensorFlow is installed in this environment."""


def _import_tensorflow_v1():
    """Imports tensorflow.compat.v1, dropping its known start-up notices from stderr.

    Anything else it prints (a real warning or error) is passed on. Set
    CADL_GRAPH_TF_VERBOSE=1 to see everything.
    """
    if importlib.util.find_spec("tensorflow") is None:
        raise MissingTensorFlow(
            f"cadl_graph needs TensorFlow and this Python ({sys.executable}) has none: "
            f"pip install 'cadl_graph[cpu]' (tensorflow-cpu=={RECORDED_WITH}, the build the "
            f"goldens were recorded with), 'cadl_graph[gpu]' (the CUDA build), or install your "
            f"own tensorflow 2.x first; cadl_graph keeps whichever is there")
    if os.environ.get(VERBOSE_ENV):
        import tensorflow.compat.v1 as tf_v1
        return tf_v1
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow.compat.v1 as tf_v1
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not _IMPORT_NOISE.search(line):
                    sys.stderr.write(line)
    return tf_v1


tf = _import_tensorflow_v1()
def version_note(version):
    """What running TensorFlow `version` instead of RECORDED_WITH affects, or None."""
    if version == RECORDED_WITH:
        return None
    return (f"TensorFlow {version} here; cadl_graph's goldens and the lecture's reference figures "
            f"were recorded with {RECORDED_WITH}: comparisons with the shipped goldens may "
            "differ in generated op names and attributes, and trained numbers in the last "
            "digits; goldens you write record your own version.")


_NOTE = version_note(tf.__version__)
if _NOTE:  # once per process: this module is imported once
    logging.getLogger("cadl_graph").warning("%s", _NOTE)

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
