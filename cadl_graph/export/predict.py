"""Run a frozen GraphDef on images: what label_image does for TensorFlow's image models.

    from cadl_graph import graphfile, untrusted
    from cadl_graph.export import predict
    graph_def = graphfile.load_graph_def("cc.pb")   # or a SavedModel folder's serve graph
    Y = predict.run_graph(graph_def, images)         # images float32 [N, 784] in [0, 1]
    print("\\n".join(predict.run_files(graph_def, "t10k-images-idx3-ubyte",
                                       "t10k-labels-idx1-ubyte")))

Inputs are checked before anything runs: the graph's ops (`cadl_graph.untrusted`: ops that
reach outside the graph are refused unless `trust=True`), node names (with the names that
exist), the output index, and the array's dtype and shape against the input placeholder. Image
files are IDX (raw or .gz: uint8 pixels, scaled to [0, 1] as the exports expect) or `.npy`
arrays of floats already in the graph's input range (a `.npy` of uint8 pixels is refused
rather than fed as 0-255).
"""

from pathlib import Path

import numpy as np

from cadl_graph import graphfile, untrusted
from cadl_graph.compat import tf
from cadl_graph.data import idx
from cadl_graph.export import summarize
from cadl_graph.graphfile import GraphFileError


def load_inputs(path, limit=None):
    """Images to feed: float32 [N, ...] from an IDX image file or a float `.npy` array.

    `limit` keeps the first N.

    Raises:
      GraphFileError: a missing or unreadable file, or a `.npy` that is not a non-empty
        float array of at least one dimension.
      IdxError: a bad IDX file.
    """
    path = Path(path)
    if not path.is_file():
        raise GraphFileError(f"input file {path} does not exist (or is not a file)")
    if path.suffix != ".npy":
        array = idx.read_idx(path, idx.IMAGES_MAGIC)
        if len(array) == 0:
            raise GraphFileError(f"{path} holds no images (its header says 0); give a file "
                                 "with at least one")
        array = array.reshape(len(array), -1).astype(np.float32) / np.float32(255.0)
        return array[:limit] if limit else array
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise GraphFileError(f"{path} is not a readable .npy array ({e}); save one with "
                             "numpy.save(path, float32_array)") from None
    if not isinstance(array, np.ndarray) or array.ndim == 0 or array.size == 0:
        raise GraphFileError(f"{path} holds no examples (shape {getattr(array, 'shape', ())}); "
                             "it needs an array [N, ...] with N >= 1")
    if not np.issubdtype(array.dtype, np.floating):
        hint = (" (uint8 pixels: divide by 255 first, the exports take [0, 1])"
                if array.dtype == np.uint8 else "")
        raise GraphFileError(f"{path} holds {array.dtype} values; the graph takes floats"
                             f"{hint}")
    return array[:limit] if limit else array


def _tensor(graph, graph_def, name):
    def not_found(op_name):
        del op_name
        summary = summarize.summarize(graph_def)
        return (f"node {name!r} is not in the graph; its inputs are "
                f"{', '.join(n for n, _, _ in summary['inputs']) or 'none'} and its likely "
                f"outputs {', '.join(summary['outputs']) or 'none'}")
    return graphfile.tensor_named(graph, name, not_found)


class Runner:
    """A GraphDef imported once into its own graph and session, to run many times.

    Args:
      graph_def: the graph; None with `saved_model`.
      trust: run ops that reach outside the graph (files, printing, Python; see
        `cadl_graph.untrusted`), which are otherwise refused before anything runs.
      saved_model: a SavedModel folder to load (its `serve` graph, variables restored, init
        op run) instead of importing `graph_def`. Its Saver's ops are allowed, but not in
        the init op or the output (`untrusted.check_fetches`).

    Raises (on construction):
      UntrustedGraphError: such ops, without `trust`.
      GraphFileError: unknown node names (with the names that exist), an output index that
        does not exist, or a version the graph needs that this TensorFlow lacks.
    """

    def __init__(self, graph_def, input_name="X", output_name="Y", trust=False,
                 saved_model=None):
        saver, meta_graph = frozenset(), None
        if saved_model is not None:
            meta_graph = graphfile.load_meta_graph(saved_model)
            graph_def, saver = meta_graph.graph_def, untrusted.saver_ops(meta_graph)
        untrusted.check(graph_def, trust, allowed=saver)
        if meta_graph is not None and not trust:
            untrusted.check_fetches(graph_def, untrusted.init_ops(meta_graph) + [output_name],
                                    saver, str(saved_model))
        for fatal, problem in graphfile.check_versions(graph_def):
            if fatal:
                raise GraphFileError(problem)
        graph = tf.Graph()
        self.session = tf.Session(graph=graph)
        with graph.as_default():
            if meta_graph is None:
                tf.import_graph_def(graph_def, name="")
            else:  # the loader restores the variables and runs the init ops
                tf.saved_model.loader.load(self.session, [graphfile.SERVE_TAG],
                                           str(saved_model))
        self.x = _tensor(graph, graph_def, input_name)
        self.y = _tensor(graph, graph_def, output_name)

    def __call__(self, inputs, batch_size=1000):
        """The output for all `inputs`, run `batch_size` at a time.

        Raises:
          GraphFileError: inputs whose shape or dtype do not fit the input placeholder.
        """
        x = self.x
        inputs = np.asarray(inputs)
        if not x.shape.is_compatible_with(inputs.shape):
            raise GraphFileError(f"input {x.op.name} takes shape {x.shape}, got an array of "
                                 f"shape {inputs.shape}")
        if not np.can_cast(inputs.dtype, x.dtype.as_numpy_dtype, casting="same_kind"):
            raise GraphFileError(f"input {x.op.name} takes {x.dtype.name}, got {inputs.dtype}")
        parts = [self.session.run(self.y, {x: inputs[i:i + batch_size]})
                 for i in range(0, len(inputs), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)

    def close(self):
        self.session.close()


def run_graph(graph_def, inputs, input_name="X", output_name="Y", batch_size=1000,
              trust=False, saved_model=None):
    """Imports `graph_def` (or loads `saved_model`) into a new graph and returns the output
    for all `inputs`.

    Raises:
      UntrustedGraphError, GraphFileError: as `Runner` and `Runner.__call__`.
    """
    runner = Runner(graph_def, input_name, output_name, trust, saved_model)
    try:
        return runner(inputs, batch_size)
    finally:
        runner.close()


def run_files(graph_def, images_path, labels_path=None, input_name="X", output_name="Y",
              limit=None, rows=3, trust=False, saved_model=None):
    """Runs the graph (or `saved_model`, whose graph `graph_def` is) on an image file; returns
    report lines (shape, first rows, accuracy).

    Raises:
      UntrustedGraphError, GraphFileError: as `run_graph`, or labels that do not fit the
        inputs or a non-10-class output.
    """
    # The Runner checks the graph (and loads it) before the image file is even opened.
    runner = Runner(graph_def, input_name, output_name, trust, saved_model)
    try:
        inputs = load_inputs(images_path, limit)
        outputs = runner(inputs)
    finally:
        runner.close()
    flat = outputs.reshape(len(outputs), -1)
    lines = [f"ran {len(inputs)} inputs: {output_name} has shape {outputs.shape}"]
    lines += [" ".join(f"{v:.4f}" for v in row[:10]) + (" ..." if row.size > 10 else "")
              for row in flat[:rows]]
    if labels_path:
        labels = idx.read_idx(labels_path, idx.LABELS_MAGIC)[:len(inputs)]
        if len(labels) != len(inputs) or flat.shape[1] != 10:
            raise GraphFileError(
                f"accuracy needs one label per input and a 10-class output; got {len(labels)} "
                f"labels for {len(inputs)} inputs, output width {flat.shape[1]}")
        lines.append(f"accuracy {np.mean(flat.argmax(axis=1) == labels):.6f}")
    return lines
