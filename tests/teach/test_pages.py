"""The pictures and pages of docs/graph-pages: current, adding up, and showing what they claim."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cadl_graph.graphs import registry
from cadl_graph.teach import drawing, pages, picture

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "graph-pages"
SCRIPT = ROOT / "scripts" / "explain_graph.py"


@pytest.fixture(scope="module")
def regenerated(update_goldens):
    """Every graph's scenes and page as the code makes them now (rewritten with
    --update-goldens)."""
    if update_goldens:
        pages.write(PAGES)
    out = {}
    for name in registry.NAMES:
        scenes = pages.pictures(name)
        out[name] = (scenes, pages.page(name, scenes))
    return out


@pytest.mark.parametrize("name", registry.NAMES)
def test_the_committed_page_and_pictures_are_current(name, regenerated):
    scenes, page = regenerated[name]
    stale = "regenerate with `make test PYTEST_ARGS=--update-goldens` and review the diff"
    path = PAGES / f"{name}.md"
    assert path.is_file() and path.read_text() == page, f"{path} is stale; {stale}"
    for file_name, scene in scenes.items():
        committed = drawing.embedded_scene(PAGES / file_name)
        assert committed == json.loads(json.dumps(scene.to_json())), \
            f"{PAGES / file_name} is stale; {stale}"
    index = (PAGES / pages.INDEX).read_text()
    assert index == pages.index_page(registry.NAMES), f"{PAGES / pages.INDEX} is stale; {stale}"


@pytest.mark.parametrize("name", registry.NAMES)
def test_every_op_is_in_exactly_one_box(name, regenerated):
    scenes, page = regenerated[name]
    graph = registry.build_in_new_graph(name).graph
    boxed = [n for b in scenes[f"{name}.svg"].boxes for n in b.ops]
    assert sorted(boxed) == sorted(op.name for op in graph.get_operations())
    frozen = [n for b in scenes[f"{name}.frozen.svg"].boxes for n in b.ops]
    added = next(b for b in scenes[f"{name}.frozen.svg"].boxes if b.kind == picture.ADDED)
    assert sorted(set(frozen) - set(added.ops)) == sorted(boxed)
    assert f"**{len(boxed)}** | the graph's {len(boxed)} ops" in page


def _kinds(scene):
    return [kind for kind, _ in scene.edges.values()]


def test_tied_decoders_read_the_encoders_weights():
    scene = picture.scene(registry.build_in_new_graph("fc_autoencoder"))
    tied = sorted((a, b) for (a, b), (kind, _) in scene.edges.items() if kind == picture.TIED)
    assert tied == sorted((f"encoder/layer/{3 - i}:variables", f"decoder/layer/{i}:compute")
                          for i in range(4))
    untied = picture.scene(registry.build_in_new_graph("linear_classifier"))
    assert picture.TIED not in _kinds(untied)


@pytest.mark.parametrize("update, outside", [("course", 7), ("in_cond", 0)])
def test_the_batch_norm_update_is_drawn_where_it_lives(update, outside):
    scene = picture.scene(registry.build_in_new_graph("vae", batch_norm_update=update))
    conds = [b for b in scene.boxes if b.kind == picture.COND]
    assert len(conds) == 7
    assert sum(b.kind == picture.UPDATE_OUTSIDE for b in scene.boxes) == outside
    holds = [b for b in conds if b.note.startswith("holds the moving-average update")]
    assert len(holds) == 7 - outside


def test_the_backward_pass_sits_beside_the_forward_pass():
    scene = picture.scene(registry.build_in_new_graph("fc_autoencoder"))
    by_title = {b.title: b for b in scene.boxes}
    for layer in ("encoder/layer/0", "decoder/layer/3"):
        forward, backward = by_title[f"{layer}: compute"], \
            by_title[f"gradients of the layer {layer}"]
        assert (forward.column, backward.column) == (0, 1) and forward.row == backward.row


def test_the_vae_page_names_its_terms():
    page = pages.page("vae")
    assert "`variational/random_normal/RandomStandardNormal` draws epsilon" in page
    assert "reconstruction term (2 ops: `SquaredDifference`" in page
    assert "the KL term (" in page and "Doubled names" in page


@pytest.mark.parametrize("args, suffix", [(["--model=fc_autoencoder"], ".svg"),
                                          (["--model=conv_classifier", "--frozen"], ".png")])
def test_the_script_draws_pictures(args, suffix, tmp_path):
    out = tmp_path / f"graph{suffix}"
    done = subprocess.run([sys.executable, str(SCRIPT), *args, f"--picture={out}"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000 and f"wrote {out}" in done.stdout
    if suffix == ".svg":
        assert drawing.embedded_scene(out)["boxes"]
    else:
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([sys.executable, str(SCRIPT), "--model=vae", "--picture=g.pdf"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "--picture names an .svg or .png file" in bad.stderr


def test_the_out48_cell_pictures_are_current_and_show_each_cell(update_goldens):
    from cadl_graph.teach import out48

    if update_goldens:
        pages.write(PAGES)
    scenes = out48.cell_pictures()
    graph, cells = out48.lecture_cells()
    assert len(scenes) == sum(1 for c in cells if c.ops)  # In[25] and In[27] add none
    folder = PAGES / out48.PICTURES
    assert sorted(p.name for p in folder.glob("*.svg")) == sorted(scenes)
    for file_name, scene in scenes.items():
        assert drawing.embedded_scene(folder / file_name) == \
            json.loads(json.dumps(scene.to_json())), f"{folder / file_name} is stale"
    first = scenes[sorted(scenes)[0]]  # In[23]: only the placeholder exists
    assert [b.key for b in first.boxes if b.state == picture.NEW] == ["Placeholder"]
    assert all(b.state == picture.LATER for b in first.boxes if b.key != "Placeholder")
    last = scenes[sorted(scenes)[-1]]  # In[47]: init_1, and nothing is left for later
    assert [b.key for b in last.boxes if b.state == picture.NEW] == ["init_1"]
    assert not [b for b in last.boxes if b.state == picture.LATER]
    page = (ROOT / "golden" / "lecture" / "out48_cells.md").read_text()
    for file_name in scenes:
        assert f"({out48.PICTURE_LINK}{file_name})" in page
