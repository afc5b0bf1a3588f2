"""explain_graph: every op of every graph in exactly one group; the Out[48] page is current."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cadl_graph.compat import tf
from cadl_graph.golden import listing
from cadl_graph.graphs import registry
from cadl_graph.teach import explain, out48, renames

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "explain_graph.py"
CASES = [(name, None) for name in registry.NAMES] + [
    (name, v) for name in registry.NAMES for v in registry.variants(name)]


def _forward_of(graph_def, tensors):
    """Op names the tensors need, by TensorFlow's own sub-graph extraction."""
    names = [t.op.name for t in tensors if t is not None]
    return {n.name for n in tf.graph_util.extract_sub_graph(graph_def, names).node}


@pytest.mark.parametrize("name, variant", CASES)
def test_every_op_is_explained_by_what_made_it(name, variant):
    model = registry.build_in_new_graph(name, **registry.variant_hparams(name, variant))
    group_list = explain.groups(model)
    kind_of = {n: g.kind for g in group_list for n in g.ops}
    assert explain.OTHER not in explain.summary(group_list), "no op left unexplained"
    # What the output needs is forward pass (TensorFlow's extract_sub_graph says what it needs,
    # control edges included); what only the training op needs is not.
    graph_def = model.graph.as_graph_def()
    needed = _forward_of(graph_def, [model.y])
    assert {n for n in needed if kind_of[n] != explain.PLACEHOLDERS} <= {
        n for n, kind in kind_of.items() if kind == explain.FORWARD}
    for op in model.graph.get_operations():
        if op.type == "ApplyAdam":
            assert kind_of[op.name] == explain.OPTIMIZER, op.name
        if op.type == "VariableV2" and op.name.endswith(("/Adam", "/Adam_1")):
            assert kind_of[op.name] == explain.OPTIMIZER, op.name
    assert kind_of[model.cost.op.name] == explain.COST
    assert kind_of[model.init_op.name] == explain.INIT
    kinds = list(explain.summary(group_list))
    assert kinds[0] == explain.PLACEHOLDERS and group_list[-1].kind == explain.INIT
    assert {explain.FORWARD, explain.COST, explain.GRADIENTS, explain.OPTIMIZER} <= set(kinds)


@pytest.mark.parametrize("name", registry.NAMES)
def test_a_frozen_export_is_accounted_for_op_by_op(name):
    graph_def, kept, removed = explain.frozen(name)
    training = {op.name: op for op in registry.build_in_new_graph(name).graph.get_operations()}
    frozen_types = {n.name: n.op for n in graph_def.node}
    unchanged, became_const, added = kept
    # Kept ops are the training graph's, of the same type; the variables are now constants.
    assert all(frozen_types[n] == training[n].type for n in unchanged.ops)
    assert {n for n, op in training.items() if op.type == "VariableV2" and n in frozen_types} \
        == set(became_const.ops)
    assert all(frozen_types[n] == "Const" for n in became_const.ops)
    # Nothing removed is in the export; nothing the training graph needs for Y is removed.
    removed_ops = {n for g in removed for n in g.ops}
    assert not removed_ops & set(frozen_types)
    removed_kinds = {g.kind for g in removed}
    assert {explain.GRADIENTS, explain.OPTIMIZER, explain.INIT} <= removed_kinds
    assert all(n in {"X", "Y"} or n.startswith(("bind/", "input/", "output/"))
               for n in kept[2].ops)


@pytest.mark.parametrize("update, where", [("course", "OUTSIDE the cond"),
                                           ("in_cond", "inside the training branch")])
def test_a_batch_norm_group_says_where_its_update_lives(update, where):
    model = registry.build_in_new_graph("vae", batch_norm_update=update)
    bn0 = next(g for g in explain.groups(model) if g.title == "layer encoder/0/bn0")
    notes = " ".join(bn0.notes)
    assert "tf.cond:" in notes and where in notes
    assert "encoder/0/bn0/encoder/0/bn0/moments/Squeeze/ExponentialMovingAverage" in notes


def test_the_cell_replay_is_the_registry_graph():
    graph, cells = out48.lecture_cells()
    assert listing.op_lines(graph) == listing.op_lines(
        registry.build_in_new_graph("lecture_sequence").graph)
    assert [c.cell for c in cells][:2] == ["In[23]", "In[24]"] and cells[-1].cell == "In[47]"
    by_cell = {c.code: c.ops for c in cells}
    assert by_cell["X = tf.placeholder(tf.float32, [None, n_input])"] == ["Placeholder_1"]
    assert cells[-1].ops == ["init_1"]


def test_the_out48_page_is_current(update_goldens):
    names = renames.lecture_names()
    page = out48.lecture_cells_page(names)
    path = listing.GOLDEN_DIR / out48.CELLS_PAGE
    if update_goldens:
        listing.write(path, page)
        return
    assert path.is_file() and path.read_text() == page, (
        f"{path} is stale; regenerate it with {listing.REGENERATE} (or "
        "scripts/explain_graph.py --lecture_cells) and review the diff")


def test_the_script_prints_the_groups():
    done = subprocess.run([sys.executable, str(SCRIPT), "--model=linear_classifier"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    ops = len(registry.build_in_new_graph("linear_classifier").graph.get_operations())
    assert done.stdout.startswith(f"linear_classifier: {ops} ops in ")
    assert "layer layer1" in done.stdout and "Adam slots" in done.stdout
    missing = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                             check=False)
    assert missing.returncode != 0 and "--model is required" in missing.stderr


def test_frozen_takes_a_run_folder_and_names_a_missing_checkpoint(tmp_path):
    model = registry.build_in_new_graph("linear_classifier")
    with model.graph.as_default(), tf.Session() as sess:
        sess.run(model.init_op)
        tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"), global_step=3)
    _, kept, _ = explain.frozen("linear_classifier", checkpoint=str(tmp_path))
    assert "layer1/W" in kept[1].ops  # the saved variable, frozen into a Const
    done = subprocess.run([sys.executable, str(SCRIPT), "--model=linear_classifier", "--frozen",
                           f"--checkpoint={tmp_path / 'nowhere'}"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert str(tmp_path / "nowhere") in done.stderr


def test_the_groups_explain_what_a_student_asks():
    fc = {g.title: g for g in explain.groups(registry.build_in_new_graph("fc_autoencoder"))}
    # Examples are the ops that compute, not initializer internals.
    assert fc["layer encoder/layer/0"].examples[:2] == ["encoder/layer/0/MatMul",
                                                      "encoder/layer/0/Relu"]
    # The first layer explains a variable's ops once; a tied decoder names the W it reads.
    assert any(n.startswith("each variable is several ops") for n in
               fc["layer encoder/layer/0"].notes)
    assert not any(n.startswith("each variable is") for n in fc["layer encoder/layer/1"].notes)
    assert any(n.startswith("reads encoder/layer/3/W") for n in
               fc["layer decoder/layer/0"].notes)
    # The cost's gradients say which op each of their ops differentiates, and they add up.
    cost = fc["gradients of the cost"]
    per_op = re.findall(r"(\w+) \((\d+)\)", cost.notes[0])
    assert sum(int(n) for _, n in per_op) == len(cost.ops)
    assert {op for op, _ in per_op} == {"Mean", "Mean_1", "SquaredDifference"}
    vae = {g.kind + g.title: g for g in explain.groups(registry.build_in_new_graph("vae"))}
    assert any(n.startswith("reparameterization z = z_mu + exp(z_log_sigma) * epsilon")
               for n in vae["forwardlayer variational"].notes)
    assert any(n.startswith("KL term: ") for n in vae["costcost"].notes)
    assert any(n.startswith("doubled scope in encoder/0/bn0/encoder/0/bn0/")
               for n in vae["forwardlayer encoder/0/bn0"].notes)
