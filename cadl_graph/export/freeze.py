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
- on request (`deterministic=True`), the random draws replaced by what they are drawn around:
  a VAE's decoder reads the code's mean (`z = z_mu`) instead of a sample
  `z_mu + epsilon * exp(z_log_sigma)`, and the denoising autoencoder's encoder reads the clean
  input instead of `corrupt(x) * corrupt_prob + x * (1 - corrupt_prob)`. The course's graph
  samples, so the default export does too (`random_ops` in the .json names the draws);
- for a SavedModel (`signatures=True`), the encoder's output `code` and a decoder input `Z`
  (a PlaceholderWithDefault whose default is the code the encoder computes), so one graph
  serves X -> Y, X -> code and Z -> Y;
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

from cadl_graph import fileio, graphfile, shapes, untrusted
from cadl_graph.compat import tf
from cadl_graph.errors import Error
from cadl_graph.export import saved_model, summarize
from cadl_graph.graphs import registry
from cadl_graph.graphs.model import ancestors
from cadl_graph.training import checkpoints, rundir

log = logging.getLogger(__name__)

PARTS = ("model", "encoder", "decoder")
FORMATS = ("frozen", "saved_model")
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


def _stand_ins(model):
    """{tensor drawn at random: the deterministic tensor it is drawn around} for `model`."""
    pairs = {}
    if "z_mu" in model.end_points:  # z = z_mu + epsilon * exp(z_log_sigma)
        pairs[model.z] = model.end_points["z_mu"]
    if "x_" in model.end_points:  # x_ = corrupt(x) * corrupt_prob + x * (1 - corrupt_prob)
        pairs[model.end_points["x_"]] = model.x
    return pairs


def _input_name(tensor_name):
    """How a GraphDef's node inputs write tensor `op:i`: `op` for output 0."""
    op, _, index = tensor_name.partition(":")
    return op if index in ("", "0") else tensor_name


def _rewired(graph_def, old, new, skip=()):
    """A copy of `graph_def` whose nodes (but those named in `skip`) read tensor `new` where
    they read tensor `old` (names "op:i")."""
    old, new = _input_name(old), _input_name(new)
    out = tf.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        if node.name not in skip and old in node.input:
            inputs = [new if i == old else i for i in node.input]
            del node.input[:]
            node.input.extend(inputs)
    return out


def _with_code_input(graph_def, code):
    """`graph_def` with node `Z`: a PlaceholderWithDefault of tensor `code` that every reader
    of `code` reads instead. Unfed, Z is the code the encoder computed; fed, the decoder
    decodes what it is given."""
    out = _rewired(graph_def, code.name, "Z:0", skip={"Z"})
    node = out.node.add()
    node.name, node.op = "Z", "PlaceholderWithDefault"
    node.input.append(_input_name(code.name))
    node.attr["dtype"].type = code.dtype.as_datatype_enum
    node.attr["shape"].shape.CopyFrom(code.shape.as_proto())
    return out


def freeze(sess, graph, output_tensors):
    """The lecture's freeze: variables to constants, then the sub-graph of the outputs."""
    graph_def = _without_update_dependencies(graph.as_graph_def())
    names = sorted({t.op.name for t in output_tensors})
    frozen = tf.graph_util.convert_variables_to_constants(sess, graph_def, names)
    return tf.graph_util.extract_sub_graph(frozen, names)


def build_export(prefix, model_name=None, hparams=None, part="model", output_nodes=None,
                 bind=None, mean_img=None, seed=0, deterministic=False, signatures=False):
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
      deterministic: replace random draws by their centre (see the module docstring).
      signatures: also the encoder's output `code` and the decoder input `Z` (part "model"
        of a model with a code), for a SavedModel's `encode` and `decode` signatures; the
        signature then lists them under "signatures".

    Raises:
      ExportError: the request does not fit the model (messages say what does).
    """
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        model = registry.build(model_name, **(hparams or {}))
        saver = tf.train.Saver(graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES))
    inputs, outputs = _interface(model, part, output_nodes)
    stand_ins = _stand_ins(model) if deterministic and part != "decoder" else {}
    if deterministic and part == "model" and not stand_ins:
        raise ExportError(f"{model.name} draws no random numbers at inference, so its exports "
                          "are deterministic already; --deterministic is for models that "
                          f"sample ({', '.join(_sampling_models())})")
    with_code = signatures and part == "model" and output_nodes is None and model.z is not None
    if with_code:
        outputs["code"] = model.end_points.get("z_mu", model.z)
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
    frozen_ops = {n.name for n in frozen.node}
    for drawn, centre in stand_ins.items():
        if drawn.op.name in frozen_ops:
            frozen = _rewired(frozen, drawn.name, centre.name)
    # The decoder reads the code (z, or z_mu when deterministic); then it reads it via Z.
    code = model.end_points["z_mu"] if model.z in stand_ins else model.z
    decodable = with_code and not _decoder_reads_input(frozen, model, code)
    if decodable:
        frozen = _with_code_input(frozen, code)
    frozen = tf.graph_util.extract_sub_graph(frozen, [t.op.name for t in outputs.values()])
    graph_def, interface = _with_interface(frozen, model, inputs, outputs, bindings, mean_img,
                                           custom_outputs=output_nodes is not None)
    _check_inference_graph(graph_def, set(inputs), model, part)
    export_ops = {n.name for n in graph_def.node}
    signature = dict(
        model=model.name, part=part, tensorflow=tf.__version__,
        producer=graph_def.versions.producer, checkpoint=os.fspath(prefix), step=step,
        inputs=[_describe(interface[n]) for n in inputs],
        outputs=[{**_describe(t), "name": n} for n, t in outputs.items()],
        bound={k: np.asarray(v).tolist() for k, v in bindings.items()
               if f"bind/{k}" in export_ops},
        input_mean_baked_in=mean_img is not None,
        trained_constants=_trained_constants(graph_def, model),
        deterministic=deterministic, random_ops=summarize.random_ops(graph_def))
    if with_code:
        signature["signatures"] = _signatures(signature, decodable)
    return graph_def, signature


def _sampling_models():
    """The registry models whose inference graph draws random numbers."""
    return [name for name in registry.NAMES
            if any(registry.hparams(name).get(k) is True for k in ("variational", "denoising"))]


def _decoder_reads_input(frozen, model, code):
    """Whether the decoder (Y back to tensor `code`) reads the input X itself: the lecture's
    conv decoder takes its batch size from tf.shape(X)[0], so it cannot decode a code alone."""
    return model.x.op.name in untrusted.ancestors(frozen, [model.y.op.name],
                                                  stop={code.op.name})


def _signatures(signature, decodable):
    """The SavedModel signatures: serving_default X -> Y, encode X -> code, decode Z -> Y."""
    ops = {t["name"]: t for t in signature["inputs"] + signature["outputs"]}
    x, y, code = ops["X"], ops["Y"], ops["code"]
    out = {"serving_default": dict(inputs={"X": x}, outputs={"Y": y}),
           "encode": dict(inputs={"X": x}, outputs={"Z": code})}
    if decodable:
        out["decode"] = dict(inputs={"Z": {**code, "name": "Z"}}, outputs={"Y": y})
    return out


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


def build_fresh_export(name, mean_img=None, hparams=None, **export_args):
    """`build_export` of registry model `name` (with `hparams` overriding the lecture's, and
    `export_args` for build_export) and freshly initialised weights: the structure of a trained
    model's export, for inspecting or timing it without training."""
    hparams = registry.hparams(name, **(hparams or {}))
    model = registry.build_in_new_graph(name, **hparams)
    with tempfile.TemporaryDirectory() as folder:
        with model.graph.as_default(), tf.Session() as sess:
            sess.run(model.init_op)
            prefix = tf.train.Saver().save(sess, str(Path(folder) / "model.ckpt"))
        return build_export(prefix, name, hparams, mean_img=mean_img, **export_args)


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


def export(checkpoint, output, model=None, part="model", output_nodes=None, bind=None,
           output_format="frozen", deterministic=False):
    """Exports a trained checkpoint (prefix or train folder) to `output`; returns the signature.

    `output_format` "frozen" writes a GraphDef file and its .json; "saved_model" a SavedModel
    folder (`cadl_graph.export.saved_model`) with the same graph plus the encode and decode
    signatures. `deterministic` replaces random draws by their centre (module docstring).

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
    if output_format not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {output_format!r}")
    check, write_as = ((_check_output, write) if output_format == "frozen" else
                       (saved_model.check_output, saved_model.write))
    check(output)  # before the work, not after it
    saved = rundir.open_run(checkpoint, model=model)
    graph_def, signature = build_export(
        saved.prefix, saved.model, saved.hparams, part, output_nodes, bind, saved.mean_img,
        seed=saved.seed, deterministic=deterministic,
        signatures=output_format == "saved_model")
    write_as(graph_def, signature, output)
    return signature
