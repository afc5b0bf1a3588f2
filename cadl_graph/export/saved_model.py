"""The frozen export as a TF1 SavedModel: what TensorFlow Serving, `saved_model_cli`, TF2's
`tf.saved_model.load` and C++'s `LoadSavedModel` take.

    graph_def, signature = freeze.build_export(prefix, "vae", signatures=True)
    saved_model.write(graph_def, signature, "vae_model")

The folder holds one meta graph tagged `serve` whose graph is the frozen export's (weights as
constants, auxiliary placeholders bound, no batch-norm updates), so `variables/` is empty and
loading restores nothing. Its signatures (method `tensorflow/serving/predict`):

  serving_default   X [?, 784] float32 -> Y, the frozen .pb's interface
  encode            X -> Z: the code (a VAE's mean z_mu), models that have one
  decode            Z -> Y, when the decoder does not also read X (the lecture's conv
                    autoencoder takes its batch size from X, so it has no decode)

`assets.extra/cadl_graph.json` is the export's signature (.json beside a .pb), with the SHA-256
of saved_model.pb. The folder is written whole under a temporary name and renamed into place:
a reader sees the old SavedModel or the whole new one (or, for the instant between moving the
old one aside and the new one in, none); never a part.
"""

import hashlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

from cadl_graph import fileio, graphfile
from cadl_graph.compat import tf
from cadl_graph.errors import Error

log = logging.getLogger(__name__)

PREDICT = "tensorflow/serving/predict"


class SavedModelError(Error, ValueError):
    """A SavedModel cannot be written where asked."""


def signature_defs(graph, signatures):
    """{key: SignatureDef} for `signatures` ({key: {inputs: {name: {name: op}}, outputs: ...}})
    with tensors of `graph`."""
    def infos(tensors):
        return {key: tf.saved_model.utils.build_tensor_info(
            graph.get_tensor_by_name(f"{t['name']}:0")) for key, t in tensors.items()}
    return {key: tf.saved_model.signature_def_utils.build_signature_def(
        inputs=infos(s["inputs"]), outputs=infos(s["outputs"]), method_name=PREDICT)
        for key, s in signatures.items()}


def check_output(output):
    output = Path(output)
    if output.exists() and not graphfile.is_saved_model(output):
        what = "a file" if output.is_file() else "a folder that is not a SavedModel"
        raise SavedModelError(f"--output {output} is {what}; a SavedModel export writes a "
                              "folder of its own: name a new one (an old SavedModel there is "
                              "replaced)")


def write(graph_def, signature, output):
    """Writes SavedModel folder `output` from an export's `graph_def` and `signature` (whose
    "signatures" name the SignatureDefs; serving_default X -> Y when it has none).

    Raises:
      SavedModelError: `output` exists and is not a SavedModel.
    """
    check_output(output)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    for leftover in output.parent.glob(f".{output.name}{fileio.TEMP_MARKER}*"):
        shutil.rmtree(leftover, ignore_errors=True)
        log.warning("removed %s, left by an interrupted export", leftover)
    signatures = signature.get("signatures") or {"serving_default": dict(
        inputs={t["name"]: t for t in signature["inputs"]},
        outputs={t["name"]: t for t in signature["outputs"]})}
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}{fileio.TEMP_MARKER}",
                                 dir=output.parent))
    try:
        folder = work / "saved_model"
        builder = tf.saved_model.Builder(str(folder))
        with tf.Session(graph=graph) as sess:
            builder.add_meta_graph_and_variables(
                sess, [graphfile.SERVE_TAG], signature_def_map=signature_defs(graph, signatures),
                strip_default_attrs=True)
        builder.save()
        saved = dict(signature, format="saved_model", signatures=signatures,
                     graph_sha256=hashlib.sha256(
                         (folder / graphfile.SAVED_MODEL_PB).read_bytes()).hexdigest())
        fileio.atomic_write_bytes(folder / graphfile.SAVED_MODEL_SIGNATURE,
                                  json.dumps(saved, indent=2, sort_keys=True).encode())
        # Old SavedModel aside, new one in, old one removed: a reader never sees a mixture.
        old = work / "old"
        if output.exists():
            output.rename(old)
        folder.rename(output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    signature.update(saved)
    return output
