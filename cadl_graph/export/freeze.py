"""Freeze a trained model into one GraphDef file that needs no Python to run.

The lecture's recipe ("Saving/Loading Models"): restore a checkpoint into the model's graph,
`convert_variables_to_constants(sess, graph_def, output_nodes)`, `extract_sub_graph`, and
`write_graph(..., as_text=False)`. Around that recipe this module adds what a deployer needs:

- a fixed interface: the input is a placeholder named `X` (or `Z` for a decoder) taking raw
  pixels in [0, 1], the output an Identity named `Y` (or `Z` for an encoder). The autoencoders
  were trained on `x - mean_img`; the export bakes that subtraction (and the addition back on
  the output) into the graph, so a C++ caller feeds raw images;
- auxiliary placeholders bound to constants for inference (`phase_train` False, `keep_prob`
  1.0, `corrupt_prob` [0.0]); `bind=` overrides them;
- the batch norms' moving-average updates cut away (they hang off the training branch of a
  cond by control dependency and would otherwise drag assign ops into the frozen graph);
- the GraphDef's producer version, so a consumer can detect version skew;
- an atomic write of the `.pb` and a `.json` signature beside it.

The frozen model keeps the lecture's op names (it is imported with no prefix); the interface
ops live under `input/` and `bind/`.
"""

import difflib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from cadl_graph import fileio, graphfile, shapes
from cadl_graph.compat import tf
from cadl_graph.errors import Error
from cadl_graph.graphs import registry
from cadl_graph.graphs.model import ancestors
from cadl_graph.training import checkpoints, rundir

log = logging.getLogger(__name__)

PARTS = ("model", "encoder", "decoder")
# Ops that change state: a graph holding any of them is not an inference graph.
STATEFUL_TYPES = {"Assign", "AssignAdd", "AssignSub", "ApplyAdam", "ApplyGradientDescent",
                  "VariableV2", "VarHandleOp", "AssignVariableOp", "ScatterUpdate"}


class ExportError(Error, ValueError):
    """The export cannot be made as asked; the message says what to change."""


def _without_update_dependencies(graph_def):
    """Drops control inputs that lead only to state updates (the batch norm EMA).

    In the course's batch norm the EMA update is a control dependency of the training branch
    of a cond. With phase_train bound to False that branch never runs, but the dependency would
    still pull AssignSub ops on (then constant) averages into the frozen graph.
    """
    nodes = {n.name: n for n in graph_def.node}
    updates = {name for name, n in nodes.items() if n.op in STATEFUL_TYPES - {"VariableV2"}}
    changed = True
    while changed:  # NoOp groups whose every control input is an update are updates too
        changed = False
        for name, n in nodes.items():
            deps = [i[1:] for i in n.input if i.startswith("^")]
            if (n.op == "NoOp" and name not in updates and deps and not
                    [i for i in n.input if not i.startswith("^")] and
                    all(d in updates for d in deps)):
                updates.add(name)
                changed = True
    out = tf.GraphDef()
    out.CopyFrom(graph_def)
    for n in out.node:
        keep = [i for i in n.input if not (i.startswith("^") and i[1:] in updates)]
        del n.input[:]
        n.input.extend(keep)
    return out


def _forward_ops(model):
    """Every op the model's forward pass and cost need: the ancestors of its named tensors.

    What lies outside (gradients, the optimizer, initializers, `init`) is training machinery.
    """
    return ancestors([model.y, model.z, model.cost, model.accuracy,
                      *model.end_points.values()])


def _output_tensor(model, name):
    """The model tensor an output name means, or an ExportError that helps find the right one.
    """
    def not_found(op_name):
        close = difflib.get_close_matches(
            op_name, [o.name for o in model.graph.get_operations()], n=5, cutoff=0.5)
        return (f"output node {name!r} is not in the model's graph. Names are op names as "
                "`cadl-graph dump_graph` prints them (optionally with ':0' for the op's first "
                "output); a graph loaded with import_graph_def has an 'import/' prefix that the "
                "model's own graph does not."
                + (f" Close names: {', '.join(close)}" if close else ""))
    def forward_only(op):
        if op.type in STATEFUL_TYPES or not op.outputs or op not in _forward_ops(model):
            raise ExportError(
                f"{name!r} is a training op ({op.type}), not part of the forward pass; an "
                f"export holds only the forward pass, e.g. {model.y.op.name}")
    return graphfile.tensor_named(model.graph, name, not_found, ExportError, forward_only)


def _interface(model, part, output_nodes):
    """(inputs, outputs): {export name: model tensor} for the part asked."""
    if part not in PARTS:
        raise ExportError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    if part != "model" and model.z is None:
        raise ExportError(f"{model.name} has no code z, so it has no {part} to export")
    inputs = {"Z": model.z} if part == "decoder" else {"X": model.x}
    if output_nodes is not None:
        if not output_nodes:
            raise ExportError("the list of output nodes is empty; name at least one op, e.g. "
                              "--output_nodes=" + model.y.op.name)
        outputs = {}
        for name in output_nodes:
            tensor = _output_tensor(model, name)
            outputs[tensor.op.name] = tensor
        return inputs, outputs
    if part == "encoder":
        return inputs, {"Z": model.end_points.get("z_mu", model.z)}
    return inputs, {"Y": model.y}


def freeze(sess, graph, output_tensors):
    """The lecture's freeze: variables to constants, then the sub-graph of the outputs."""
    graph_def = _without_update_dependencies(graph.as_graph_def())
    names = sorted({t.op.name for t in output_tensors})
    frozen = tf.graph_util.convert_variables_to_constants(sess, graph_def, names)
    return tf.graph_util.extract_sub_graph(frozen, names)


def build_export(prefix, model_name=None, hparams=None, part="model", output_nodes=None,
                 bind=None, mean_img=None, seed=0):
    """Restores `prefix` into a fresh model graph and returns (graph_def, signature).

    Args:
      prefix: checkpoint prefix.
      model_name, hparams: the registry model and its hyperparameters.
      part: "model" (X -> Y), "encoder" (X -> Z, the code's mean for VAEs) or "decoder"
        (Z -> Y).
      output_nodes: op names to export instead of the part's output (they keep their names).
      bind: {placeholder op name: value} overriding the inference bindings.
      mean_img: float32 [784] to bake in (autoencoders, which were trained on x - mean).
      seed: graph seed, so a VAE's sampling is the same in every session of the export.
    """
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        model = registry.build(model_name, **(hparams or {}))
        saver = tf.train.Saver(graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES))
    inputs, outputs = _interface(model, part, output_nodes)
    bindings = {t.op.name: v for t, v in model.eval_feed.items()}
    for name, value in (bind or {}).items():
        if name not in bindings:
            raise ExportError(f"cannot bind {name!r}: the auxiliary placeholders of "
                              f"{model.name} are {', '.join(sorted(bindings)) or 'none'}")
        placeholder = graph.get_operation_by_name(name).outputs[0]
        try:
            tf.make_tensor_proto(value, placeholder.dtype, placeholder.shape)
        except (TypeError, ValueError) as e:
            raise ExportError(f"cannot bind {name}={json.dumps(value)}: {name} takes "
                              f"{placeholder.dtype.name} of shape {placeholder.shape} ({e})"
                              ) from None
        bindings[name] = value
    with tf.Session(graph=graph) as sess:
        checkpoints.restore(sess, saver, prefix,
                            graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES))
        frozen = freeze(sess, graph, list(outputs.values()))
        step = _global_step(prefix)
    graph_def, interface = _with_interface(frozen, model, inputs, outputs, bindings, mean_img,
                                           custom_outputs=output_nodes is not None)
    _check_inference_graph(graph_def, set(inputs), model, part)
    signature = dict(
        model=model.name, part=part, tensorflow=tf.__version__,
        producer=graph_def.versions.producer, checkpoint=os.fspath(prefix), step=step,
        inputs=[_describe(interface[n]) for n in inputs],
        outputs=[{**_describe(t), "name": n} for n, t in outputs.items()],
        bound={k: np.asarray(v).tolist() for k, v in bindings.items()},
        input_mean_baked_in=mean_img is not None,
        trained_constants=_trained_constants(graph_def, model))
    return graph_def, signature


def _with_interface(frozen, model, inputs, outputs, bindings, mean_img, custom_outputs):
    """The frozen graph imported under the export's interface: a placeholder per input
    (minus the mean image when one is baked in), constants for the bound placeholders, an
    Identity per output (plus the mean), and only what the outputs need.

    Returns:
      (GraphDef with the producer version put back, {input name: placeholder}).
    """
    export = tf.Graph()
    with export.as_default():
        input_map, interface = {}, {}
        for name, tensor in inputs.items():
            placeholder = tf.placeholder(tf.float32, tensor.shape, name=name)
            interface[name] = placeholder
            fed = placeholder
            if mean_img is not None and name == "X":
                with tf.name_scope("input"):
                    fed = placeholder - tf.constant(mean_img, tf.float32, name="mean_img")
            input_map[tensor.name] = fed
        present = {n.name for n in frozen.node}
        with tf.name_scope("bind"):
            # Only what the outputs depend on: a VAE without dropout never reads keep_prob.
            for name, value in bindings.items():
                if name not in present:
                    continue
                dtype = model.graph.get_operation_by_name(name).outputs[0].dtype
                input_map[f"{name}:0"] = tf.constant(value, dtype, name=name)
        results = tf.import_graph_def(frozen, input_map=input_map, name="",
                                      return_elements=[t.name for t in outputs.values()])
        for (name, tensor), result in zip(outputs.items(), results):
            if custom_outputs:
                continue  # custom outputs keep their own names
            if mean_img is not None and name == "Y" and tensor is model.y:
                with tf.name_scope("output"):
                    result = result + tf.constant(mean_img, tf.float32, name="mean_img")
            tf.identity(result, name=name)
    graph_def = tf.graph_util.extract_sub_graph(export.as_graph_def(), list(outputs))
    # TF2's converter clears `versions`: put the producer back so a consumer can detect skew.
    graph_def.versions.producer = tf.GRAPH_DEF_VERSION
    graph_def.versions.min_consumer = tf.GRAPH_DEF_VERSION_MIN_CONSUMER
    return graph_def, interface


def _trained_constants(graph_def, model):
    """The Const nodes whose values came from training or data, not from the graph's code:
    the frozen variables and the baked-in mean image (a golden pins only their dtype and
    shape)."""
    variables = {v.op.name for v in model.graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}
    return sorted(n.name for n in graph_def.node if n.op == "Const" and (
        n.name in variables or n.name.endswith("/mean_img")))


def _describe(tensor):
    return dict(name=tensor.op.name, dtype=tensor.dtype.name, shape=shapes.dims(tensor.shape))


def _global_step(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return int(reader.get_tensor("global_step")) if reader.has_tensor("global_step") else None


def _non_finite_constants(graph_def):
    floats = (tf.float32.as_datatype_enum, tf.float64.as_datatype_enum)
    return [n.name for n in graph_def.node
            if n.op == "Const" and n.attr["value"].tensor.dtype in floats
            and not np.all(np.isfinite(tf.make_ndarray(n.attr["value"].tensor)))]


def _check_inference_graph(graph_def, inputs, model, part):
    stateful = sorted(n.name for n in graph_def.node if n.op in STATEFUL_TYPES)
    if stateful:
        raise ExportError(f"variables or updates left after freezing: {', '.join(stateful)}")
    non_finite = _non_finite_constants(graph_def)
    if non_finite:
        raise ExportError(f"the checkpoint's weights are not finite (NaN or inf in "
                          f"{', '.join(non_finite)}): the run diverged; export a checkpoint "
                          "from before it, or train again with a smaller learning rate")
    unfed = sorted(n.name for n in graph_def.node
                   if n.op == "Placeholder" and n.name not in inputs)
    if part == "decoder" and model.x.op.name in unfed:
        raise ExportError(
            f"{model.name}'s decoder reads the input placeholder {model.x.op.name} (the "
            "lecture's conv decoder takes its batch size from tf.shape(X)[0]), so it cannot be "
            "exported without the encoder; export part 'model' or 'encoder' instead")
    if unfed:
        raise ExportError(
            f"the export would need values for placeholders {', '.join(unfed)}; bind them, "
            f"e.g. --bind={unfed[0]}=1.0")


def build_fresh_export(name, mean_img=None, hparams=None):
    """`build_export` of registry model `name` (with `hparams` overriding the lecture's) and
    freshly initialised weights: the structure of a trained model's export, for inspecting or
    timing it without training."""
    hparams = registry.hparams(name, **(hparams or {}))
    model = registry.build_in_new_graph(name, **hparams)
    with tempfile.TemporaryDirectory() as folder:
        with model.graph.as_default(), tf.Session() as sess:
            sess.run(model.init_op)
            prefix = tf.train.Saver().save(sess, str(Path(folder) / "model.ckpt"))
        return build_export(prefix, name, hparams, mean_img=mean_img)


def _check_output(output):
    output = Path(os.fspath(output))
    if output.is_dir():
        raise ExportError(f"--output {output} is a folder; name the .pb file to write, e.g. "
                          f"{output / 'model.pb'}")
    if output.with_suffix(".json").is_dir():
        raise ExportError(f"{output.with_suffix('.json')} is a folder; the export writes "
                          f"{output} and its signature there: name another .pb file")


def write(graph_def, signature, output):
    """Writes `output` (binary GraphDef) and `output` with .json as a pair: both are complete
    before either replaces the old one, and the .json records the .pb's SHA-256
    (`graph_sha256`), so a kill between the two renames leaves a pair that says it does not
    match (`signature_of`). What earlier interrupted exports left is removed, and said.

    Raises:
      ExportError: `output` or its .json is a folder.
    """
    _check_output(output)
    output = Path(output)
    signature_path = output.with_suffix(".json")
    for name in (output.name, signature_path.name):
        for leftover in output.parent.glob(f".{name}{fileio.TEMP_MARKER}*"):
            leftover.unlink()
            log.warning("removed %s, left by an interrupted export", leftover)
    with fileio.atomic_path(output) as pb_tmp, fileio.atomic_path(signature_path) as json_tmp:
        tf.train.write_graph(graph_def, str(pb_tmp.parent), pb_tmp.name, as_text=False)
        signature["graph_sha256"] = hashlib.sha256(pb_tmp.read_bytes()).hexdigest()
        json_tmp.write_bytes(json.dumps(signature, indent=2, sort_keys=True).encode())
    return output


def export(checkpoint, output, model=None, part="model", output_nodes=None, bind=None):
    """Exports a trained checkpoint (prefix or train folder) to `output`; returns the signature.

    The model and its hyperparameters come from the run.json that training wrote beside the
    checkpoint; `model` names a registry model when there is none (lecture defaults).

    Raises:
      checkpoints.CheckpointError: no checkpoint there, or it does not fit the model.
      RunFolderError: no run.json says which model it is (and `model` is None), or it names
        another model than `model`.
      ExportError: anything else about the request.
    """
    if Path(os.fspath(checkpoint)).suffix == ".pb":
        raise ExportError(f"{checkpoint} is already a frozen graph; export takes a checkpoint "
                          "prefix or a train folder (cadl-graph summarize_graph reads .pb files)")
    _check_output(output)  # before the work, not after it
    saved = rundir.open_run(checkpoint, model=model)
    graph_def, signature = build_export(saved.prefix, saved.model, saved.hparams, part,
                                        output_nodes, bind, saved.mean_img, seed=saved.seed)
    write(graph_def, signature, output)
    return signature
