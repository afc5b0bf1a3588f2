"""Measured demonstrations of what a graph does, taught in docs/batch-norm.md.

    from cadl_graph.teach import lessons
    results = lessons.batch_norm_flaw(images)     # images: float32 [N, 784] in [0, 1]
    print("\\n".join(lessons.format_batch_norm_flaw(results, len(images))))

`batch_norm_flaw` builds a VAE preset twice, with the course's batch norm and with the repaired
one (same variables, same values), runs inference (`phase_train` False) several times on one
batch, and reports which op the training branch waits for, whether that op sits inside the
cond, how far the moving averages moved after each run, and how far the output moved.
"""

import numpy as np

from cadl_graph.compat import tf
from cadl_graph.graphs import registry
from cadl_graph.graphs.batch_norm import UPDATES
from cadl_graph.training import checkpoints


def _update_op(graph, scope):
    """(op the training branch's `cond/Identity` waits for, the update ops it groups)."""
    identity = graph.get_operation_by_name(f"{scope}/cond/Identity")
    group = identity.control_inputs[0]
    return group, list(group.control_inputs)


def _moving_averages(graph):
    return [v for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
            if v.op.name.endswith("/ExponentialMovingAverage")]


def batch_norm_flaw(images, name="denoising_autoencoder", checkpoint=None, runs=3, seed=0):
    """Inference `runs` times on `images` with each batch norm variant.

    Args:
      images: float32 [N, 784] in [0, 1].
      name: a registry model with batch norm (the VAE family).
      checkpoint: a prefix or train folder to restore (same variables in both variants), or
        None for a freshly initialised model (graph seed `seed`).

    Returns:
      list of dicts, one per variant: update ("course" or "in_cond"), waits_for (op name),
      outside_cond (bool), assigns (op names), output (the tensor fetched: the code's mean when
      the model samples a code, else the reconstruction), moved (max |change| of any moving
      average after each run), output_change (max |output - output of run 1| for each run).
    """
    if "batch_norm_update" not in registry.get(name).hparams:
        raise ValueError(f"{name} has no batch norm; use one of the VAE family")
    prefix = checkpoints.resolve(checkpoint) if checkpoint else None
    results = []
    for update in UPDATES:
        graph = tf.Graph()
        with graph.as_default():
            tf.set_random_seed(seed)
            model = registry.build(name, batch_norm_update=update)
            saver = tf.train.Saver() if prefix else None
        group, assigns = _update_op(graph, "encoder/0/bn0")
        output = model.end_points.get("z_mu", model.y)
        averages = _moving_averages(graph)
        feed = {model.x: images, **model.eval_feed}
        moved, outputs = [], []
        with tf.Session(graph=graph) as sess:
            if prefix:
                checkpoints.restore(sess, saver, prefix,
                                    graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES))
            else:
                sess.run(model.init_op)
            before = sess.run(averages)
            for _ in range(runs):
                outputs.append(sess.run(output, feed))
                after = sess.run(averages)
                moved.append(max(float(np.abs(a - b).max()) for a, b in zip(after, before)))
                before = after
        results.append(dict(
            update=update, waits_for=group.name,
            outside_cond=group._control_flow_context is None,  # noqa: SLF001 (no public API)
            assigns=[op.name for op in assigns], output=output.op.name, moved=moved,
            output_change=[float(np.abs(o - outputs[0]).max()) for o in outputs]))
    return results


def format_batch_norm_flaw(results, n_images):
    """Report lines for `batch_norm_flaw`'s results."""
    lines = []
    for r in results:
        where = "OUTSIDE the cond" if r["outside_cond"] else "inside the cond's training branch"
        lines += [
            f"batch_norm_update={r['update']}:",
            f"  encoder/0/bn0/cond/Identity waits for {r['waits_for']} (NoOp, {where}),",
            f"  which groups {', '.join(r['assigns'])}",
            f"  {len(r['moved'])} inference runs (phase_train=False) on the same "
            f"{n_images} images, fetching {r['output']}:"]
        for i, (moved, change) in enumerate(zip(r["moved"], r["output_change"]), 1):
            lines.append(f"    run {i}: moving averages moved by up to {moved:.3g}; "
                         f"output differs from run 1 by up to {change:.3g}")
    return lines
