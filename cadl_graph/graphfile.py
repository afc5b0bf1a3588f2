"""Graph files from anywhere: read a GraphDef strictly, check its versions, find a tensor.

    from cadl_graph import graphfile
    graph_def = graphfile.load_graph_def("model.pb")       # binary or text
    problems = graphfile.check_versions(graph_def)          # [(fatal, message)]

Loading is strict about what a file is: a binary GraphDef, a text one, a SavedModel folder
(its `serve` graph), or something this module recognises and explains (a Saver's `.meta`, a
checkpoint). Reading a file runs nothing in it; running a loaded graph is
`cadl_graph.export.predict`.
"""

from pathlib import Path

from google.protobuf import message, text_format

from cadl_graph.compat import tf
from cadl_graph.errors import Error


class GraphFileError(Error, ValueError):
    """A file is not a loadable GraphDef, or a graph cannot run as asked."""


# A training run's graph: `cadl-graph train` writes it once into the run folder, under a name
# that the Saver's rotation (which deletes model.ckpt-<step>.meta with its checkpoint) never
# removes. tf.train.import_meta_graph reads it; the folder's latest checkpoint restores into it.
RUN_META_GRAPH = "model.ckpt.meta"

# A SavedModel is a folder: saved_model.pb (its MetaGraphDefs, each with tags and signatures),
# variables/, assets/ and assets.extra/, the place TensorFlow Serving leaves to other tools.
SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"  # its text form, read where there is no .pb
SERVE_TAG = "serve"
# What `cadl-graph export_graph` says about an export: beside a .pb (<name>.json), or inside
# a SavedModel.
SAVED_MODEL_SIGNATURE = Path("assets.extra") / "cadl_graph.json"


def is_saved_model(path):
    """Whether `path` is a SavedModel folder (holds saved_model.pb or saved_model.pbtxt)."""
    return Path(path).is_dir() and any((Path(path) / name).is_file()
                                       for name in (SAVED_MODEL_PB, SAVED_MODEL_PBTXT))


def export_files(path):
    """(the export's graph file, its .json signature) for a frozen .pb or a SavedModel."""
    path = Path(path)
    if is_saved_model(path):
        return path / SAVED_MODEL_PB, path / SAVED_MODEL_SIGNATURE
    return path, path.with_suffix(".json")


def load_meta_graph(path, tag=SERVE_TAG):
    """The MetaGraphDef tagged `tag` in SavedModel folder `path` (read, nothing run).

    Raises:
      GraphFileError: no SavedModel there, an unreadable saved_model.pb, or no meta graph
        with that tag (the message lists the tag sets there are).
    """
    from tensorflow.core.protobuf import saved_model_pb2

    pb, pbtxt = Path(path) / SAVED_MODEL_PB, Path(path) / SAVED_MODEL_PBTXT
    if not pb.is_file() and not pbtxt.is_file():
        raise GraphFileError(f"{path} is not a SavedModel folder (no {SAVED_MODEL_PB})")
    saved = saved_model_pb2.SavedModel()
    try:
        if pb.is_file():
            saved.ParseFromString(pb.read_bytes())
        else:
            text_format.Parse(pbtxt.read_text(encoding="utf-8"), saved)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as e:
        raise GraphFileError(f"{pb if pb.is_file() else pbtxt} is not a readable SavedModel "
                             f"({e})") from None
    tag_sets = [list(m.meta_info_def.tags) for m in saved.meta_graphs]
    for meta_graph in saved.meta_graphs:
        if tag in meta_graph.meta_info_def.tags:
            return meta_graph
    raise GraphFileError(f"SavedModel {path} has no meta graph tagged {tag!r}; its tag sets are "
                         f"{tag_sets or 'none'}")


def load_graph_def(path, meta_graphs=False):
    """Reads a GraphDef from a binary (tried first) or text protobuf file.

    A SavedModel folder gives the graph of its `serve` meta graph (`load_meta_graph`).

    Args:
      meta_graphs: also accept a Saver's `.meta` (a MetaGraphDef), or a training run's folder
        (its RUN_META_GRAPH), and return its graph, which still has its variables (fine for
        comparing structure, not for running).

    Raises:
      GraphFileError: missing file, a `.meta` MetaGraphDef (unless `meta_graphs`), a
        checkpoint, bytes that are neither kind of GraphDef, or a SavedModel without a
        `serve` graph.
    """
    path = Path(path)
    if is_saved_model(path):
        return load_meta_graph(path).graph_def
    if path.is_dir() and meta_graphs and (path / RUN_META_GRAPH).is_file():
        path = path / RUN_META_GRAPH
    if path.is_dir():
        hint = ""
        if meta_graphs and any(path.glob("*.index")):
            hint = (f" It holds checkpoints but no {RUN_META_GRAPH} (runs of cadl_graph 0.1 "
                    "did not write one; training in the folder again writes it).")
        raise GraphFileError(f"{path} is a folder, not a GraphDef file.{hint}")
    if not path.is_file():
        raise GraphFileError(f"graph file {path} does not exist")
    if path.suffix == ".index" or ".data-" in path.name:
        raise GraphFileError(f"{path} is part of a checkpoint (variables only, no graph); "
                             "freeze it first with cadl-graph export_graph")
    data = path.read_bytes()
    if meta_graphs and _parses_as(tf.MetaGraphDef, data, "graph_def"):
        return tf.MetaGraphDef.FromString(data).graph_def
    if path.suffix == ".meta" or _parses_as(tf.MetaGraphDef, data, "graph_def"):
        raise GraphFileError(f"{path} is a MetaGraphDef (a Saver's .meta): its graph still "
                             "has variables. Freeze the checkpoint with cadl-graph export_graph")
    if path.name == SAVED_MODEL_PB:
        raise GraphFileError(f"{path} is a SavedModel's graph; name its folder "
                             f"{path.parent} instead")
    graph_def = tf.GraphDef()
    try:
        graph_def.ParseFromString(data)
        if _plausible(graph_def):
            return graph_def
    except message.DecodeError:
        pass
    try:
        graph_def = text_format.Parse(data.decode("utf-8"), tf.GraphDef())
        if _plausible(graph_def):
            return graph_def
    except (text_format.ParseError, UnicodeDecodeError):
        pass
    raise GraphFileError(f"{path} ({len(data)} bytes) parses neither as a binary nor as a "
                         "text GraphDef")


def _parses_as(proto_type, data, field):
    proto = proto_type()
    try:
        proto.ParseFromString(data)
    except message.DecodeError:
        return False
    return proto.HasField(field) and _plausible(getattr(proto, field))


def _plausible(graph_def):
    return len(graph_def.node) > 0 and all(n.name and n.op for n in graph_def.node)


def check_versions(graph_def):
    """Problems with the GraphDef's versions for this TensorFlow, as (fatal, message) pairs."""
    versions, problems = graph_def.versions, []
    if versions.producer == 0:
        problems.append((False, "the graph records no producer version (TF2's "
                                "convert_variables_to_constants clears it); version skew "
                                "cannot be detected"))
    elif versions.producer > tf.GRAPH_DEF_VERSION:
        problems.append((False, f"the graph was made by a newer TensorFlow (producer "
                                f"{versions.producer} > {tf.GRAPH_DEF_VERSION}); ops may be "
                                "unknown here"))
    elif versions.producer < tf.GRAPH_DEF_VERSION_MIN_PRODUCER:
        problems.append((True, f"the graph is too old for this TensorFlow (producer "
                               f"{versions.producer} < {tf.GRAPH_DEF_VERSION_MIN_PRODUCER})"))
    if versions.min_consumer > tf.GRAPH_DEF_VERSION:
        problems.append((True, f"the graph needs a TensorFlow whose GraphDef version is at "
                               f"least {versions.min_consumer}; this one is "
                               f"{tf.GRAPH_DEF_VERSION}"))
    return problems


def tensor_named(graph, name, not_found, error=GraphFileError, check_op=None):
    """The tensor that `name` ("op" or "op:index") means in `graph`.

    Args:
      not_found: called with the op name when the graph has no such op; returns the message.
      error: the exception class raised.
      check_op: called with the op before its outputs are looked at (it raises to refuse it).

    Raises:
      error: no such op, an op without outputs, or an index the op's outputs do not have.
    """
    op_name, _, index = name.partition(":")
    try:
        op = graph.get_operation_by_name(op_name)
    except KeyError:
        raise error(not_found(op_name)) from None
    if check_op is not None:
        check_op(op)
    if not op.outputs:
        raise error(f"node {op_name} ({op.type}) has no outputs; name one that computes a value")
    if index and (not index.isdigit() or int(index) >= len(op.outputs)):
        raise error(f"node {op_name} has {len(op.outputs)} output(s) (:0 to "
                    f":{len(op.outputs) - 1}); {name!r} is not one of them")
    return op.outputs[int(index or 0)]
