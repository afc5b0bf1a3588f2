"""explain_graph: every op of every graph in exactly one group; the Out[48] page is current."""

import subprocess
import sys
from pathlib import Path

import pytest

from cadl_graph.golden import listing as golden
from cadl_graph.graphs import registry
from cadl_graph.teach import explain

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "explain_graph.py"
CASES = [(name, None) for name in registry.NAMES] + [
    (name, v) for name in registry.NAMES for v in registry.variants(name)]


@pytest.mark.parametrize("name, variant", CASES)
def test_every_op_is_in_exactly_one_group(name, variant):
    model = registry.build_in_new_graph(name, **(registry.VARIANTS[variant] if variant else {}))
    ops = [op.name for op in model.graph.get_operations()]
    group_list = explain.groups(model)
    grouped = [n for g in group_list for n in g.ops]
    assert sorted(grouped) == sorted(ops)  # every op once: the counts add up
    assert sum(explain.summary(group_list).values()) == len(ops)
    assert explain.OTHER not in explain.summary(group_list), "no op left unexplained"
    kinds = list(explain.summary(group_list))
    assert kinds[0] == explain.PLACEHOLDERS and group_list[-1].kind == explain.INIT
    assert {explain.FORWARD, explain.COST, explain.GRADIENTS, explain.OPTIMIZER} <= set(kinds)


@pytest.mark.parametrize("name", registry.NAMES)
def test_a_frozen_export_is_accounted_for_op_by_op(name):
    graph_def, kept, removed = explain.frozen(name)
    training = registry.build_in_new_graph(name).graph.get_operations()
    assert sum(len(g.ops) for g in kept) == len(graph_def.node)
    kept_from_training = sum(len(g.ops) for g in kept[:2])  # kept + became Const
    assert kept_from_training + sum(len(g.ops) for g in removed) == len(training)
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
    graph, cells = explain.lecture_cells()
    assert golden.op_lines(graph) == golden.op_lines(
        registry.build_in_new_graph("lecture_sequence").graph)
    assert [c.cell for c in cells][:2] == ["In[23]", "In[24]"] and cells[-1].cell == "In[47]"
    by_cell = {c.code: c.ops for c in cells}
    assert by_cell["X = tf.placeholder(tf.float32, [None, n_input])"] == ["Placeholder_1"]
    assert cells[-1].ops == ["init_1"]


def test_the_out48_page_is_current(update_goldens):
    names = golden.parse((golden.GOLDEN_DIR / "lecture" / "out48.txt").read_text())
    page = explain.lecture_cells_page(names)
    path = golden.GOLDEN_DIR / explain.CELLS_PAGE
    if update_goldens:
        golden.write(path, page)
        return
    assert path.is_file() and path.read_text() == page, (
        f"{path} is stale; regenerate it with {golden.REGENERATE} (or "
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
