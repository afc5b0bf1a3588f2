"""Draws a teach.picture Scene: igraph's layered (Sugiyama) layout, matplotlib's SVG or PNG.

The forward side (placeholders, layers, cost) is laid out by igraph's Sugiyama layout on the
rows the scene gives, which orders each row to cut down crossings and routes long arrows (a
tied weight, a skip) around boxes through bend points. The backward side is a column to its
right, one row per forward layer, so the backward pass reads bottom to top beside the forward
pass; the optimizer and init sit below it.

save() embeds the scene (boxes, rows, edges; no coordinates) in the SVG's description, so a
test can tell whether a committed picture is still the graph's without comparing renderer bytes
(which change with matplotlib's version).
"""

import io
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import igraph
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as MplPath

from cadl_graph import fileio
from cadl_graph.teach import picture as p

BOX_W, BOX_H = 0.86, 0.56  # in layout units: one column and one row
INCH_X, INCH_Y = 2.9, 0.8  # inches per layout unit
FONT = 6.5
FILL = {p.PLACEHOLDERS: "#fde0c5", p.VARIABLES: "#cfe2f3", p.COMPUTE: "#d9ead3",
        p.NORMALIZE: "#d9ead3",
        p.COND: "#fff2cc", p.UPDATE_OUTSIDE: "#f4cccc", p.COST: "#ead1dc",
        p.ACCURACY: "#ead1dc", p.GRADIENTS: "#eeeeee", p.OPTIMIZER: "#d0e0e3",
        p.OPTIMIZER_STATE: "#d0e0e3", p.INIT: "#ffffff", p.OTHER: "#ffffff",
        p.FROZEN_CONST: "#9fc5e8", p.REMOVED: "#f3f3f3", p.ADDED: "#fce5cd"}
BORDER = {p.UPDATE_OUTSIDE: ("#cc0000", 1.6), p.REMOVED: ("#bbbbbb", 0.6)}
EDGE = {  # colour, width, line style, alpha
    p.DATA: ("#333333", 0.8, "-", 1.0), p.CONTROL: ("#777777", 0.7, "--", 1.0),
    p.TIED: ("#cc0000", 1.8, "-", 1.0), p.READS: ("#aaaaaa", 0.4, "-", 0.5),
    p.WRITES: ("#3d85c6", 0.5, "-", 0.45)}
# Every variable's initializer into init, and a many-reader placeholder's arrows: their boxes
# say so instead.
NOT_DRAWN = {p.INITIALIZES, p.FEEDS}
SVG_DESCRIPTION = "{http://purl.org/dc/elements/1.1/}description"


def layout(scene):
    """{box key: (x, y)} centres in layout units, and {(a, b): [(x, y), ...]} polylines."""
    forward = [b for b in scene.boxes if b.column == 0]
    index = {b.key: i for i, b in enumerate(forward)}
    pairs = [(a, b) for (a, b), (kind, _) in scene.edges.items()
             if a in index and b in index and kind not in NOT_DRAWN]
    # Only edges pointing down are laid out; one to a box on its own row or above (rare: a
    # scope's pieces that feed each other) is drawn straight.
    row = {b.key: b.row for b in scene.boxes}
    down = [(a, b) for a, b in pairs if row[a] < row[b]]
    # Each long edge gets a dummy vertex on every row it crosses, so that every edge igraph
    # sees joins neighbouring rows and the dummies' places are the edge's bends. (igraph's own
    # edge_routing for long edges comes back assigned to the wrong edges in igraph 1.0.)
    layers = [b.row for b in forward]
    links, chains = [], {}
    for a, b in down:
        chain = [index[a]]
        for crossed in range(row[a] + 1, row[b]):
            layers.append(crossed)
            chain.append(len(layers) - 1)
        chain.append(index[b])
        links += list(zip(chain, chain[1:]))
        chains[(a, b)] = chain
    graph = igraph.Graph(n=len(layers), edges=links, directed=True)
    placed = graph.layout_sugiyama(layers=layers, hgap=1, vgap=1, maxiter=200)
    centres = {b.key: tuple(placed.coords[i]) for i, b in enumerate(forward)}
    _spread(centres)
    paths = {pair: [centres[pair[0]], centres[pair[1]]] for pair in pairs}
    for pair, chain in chains.items():
        paths[pair] = [centres[pair[0]], *(tuple(placed.coords[v]) for v in chain[1:-1]),
                       centres[pair[1]]]
    right = max((x for x, _ in [*centres.values(), *(pt for path in paths.values()
                                                      for pt in path)]), default=0) + 1.4
    columns = {}
    for box in sorted((b for b in scene.boxes if b.column == 1),
                      key=lambda b: (b.row, _mean_x(scene, b, centres))):
        slot = columns.get(box.row, 0)
        columns[box.row] = slot + 1
        centres[box.key] = (right + slot, float(box.row))
    for (a, b), (kind, _) in scene.edges.items():
        if kind not in NOT_DRAWN and (a, b) not in paths:
            paths[(a, b)] = [centres[a], centres[b]]
    return centres, paths


def _spread(centres):
    """At least one column between the boxes of a row (igraph's placement can stack two)."""
    rows = {}
    for key, (x, y) in centres.items():
        rows.setdefault(y, []).append(key)
    for y, keys in rows.items():
        keys.sort(key=lambda k: centres[k][0])
        for left, right in zip(keys, keys[1:]):
            if centres[right][0] < centres[left][0] + 1:
                centres[right] = (centres[left][0] + 1, y)


def _mean_x(scene, box, centres):
    """Where the forward boxes a backward box talks to sit, so its column keeps their order."""
    xs = [centres[a][0] for (a, b) in scene.edges if b == box.key and a in centres] + \
         [centres[b][0] for (a, b) in scene.edges if a == box.key and b in centres]
    return sum(xs) / len(xs) if xs else 0.0


def draw(scene):
    """A matplotlib Figure of the scene."""
    centres, paths = layout(scene)
    states = {b.key: b.state for b in scene.boxes}
    points = [*centres.values(), *(pt for path in paths.values() for pt in path)]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    width, height = max(xs) - min(xs) + 1.2, max(ys) - min(ys) + 2.2
    figure = Figure(figsize=(width * INCH_X, height * INCH_Y))
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    axes.set_ylim(max(ys) + 0.8, min(ys) - 1.4)  # row 0 at the top
    axes.axis("off")
    axes.text(min(xs) - 0.5, min(ys) - 1.0, scene.title, fontsize=FONT + 3, weight="bold",
              va="center")
    for (a, b), (kind, n) in scene.edges.items():
        if kind in NOT_DRAWN:
            continue
        colour, line_width, style, alpha = EDGE[kind]
        if p.LATER in (states[a], states[b]):
            alpha *= 0.2
        points = _clip(paths[(a, b)])
        arrow = FancyArrowPatch(path=_smooth(points), arrowstyle="-|>",
                                mutation_scale=6, color=colour, linewidth=line_width,
                                linestyle=style, alpha=alpha, zorder=1)
        axes.add_patch(arrow)
        if kind == p.TIED:
            mx, my = points[len(points) // 2]
            axes.text(mx, my, "tied W", color=colour, fontsize=FONT, ha="center",
                      va="center", backgroundcolor="white", zorder=3)
    for box in scene.boxes:
        x, y = centres[box.key]
        edge_colour, edge_width = BORDER.get(box.kind, ("#555555", 0.6))
        if box.state == p.NEW:
            edge_colour, edge_width = "#e69138", 2.4
        alpha = 0.25 if box.state == p.LATER else 1.0
        axes.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                      boxstyle="round,pad=0,rounding_size=0.06",
                                      facecolor=FILL[box.kind], edgecolor=edge_colour,
                                      linewidth=edge_width, alpha=alpha, zorder=2))
        axes.text(x, y - 0.12, _fit(box.title, 44), fontsize=FONT, ha="center",
                  va="center", weight="bold", alpha=alpha, zorder=3)
        axes.text(x, y + 0.12, _fit(f"{len(box.ops)} ops: {box.note}", 58),
                  fontsize=FONT - 0.5, ha="center", va="center", alpha=alpha, zorder=3)
    return figure


def _clip(points):
    """The polyline, its ends moved from the box centres to the box edges."""
    points = [tuple(pt) for pt in points]

    def toward(inside, outside):
        (x0, y0), (x1, y1) = inside, outside
        dx, dy = x1 - x0, y1 - y0
        scale = min(BOX_W / 2 / abs(dx) if dx else float("inf"),
                    BOX_H / 2 / abs(dy) if dy else float("inf"), 1.0)
        return x0 + dx * scale, y0 + dy * scale

    if len(points) >= 2:
        points[0] = toward(points[0], points[1])
        points[-1] = toward(points[-1], points[-2])
    return points


def _smooth(points):
    """A path through the bend points with rounded corners: straight to the midpoint of each
    segment, a quadratic curve round each bend."""
    if len(points) < 3:
        return MplPath(points, [MplPath.MOVETO, MplPath.LINETO][:len(points)])
    mids = [((x0 + x1) / 2, (y0 + y1) / 2) for (x0, y0), (x1, y1) in zip(points, points[1:])]
    vertices, codes = [points[0], mids[0]], [MplPath.MOVETO, MplPath.LINETO]
    for bend, mid in zip(points[1:-1], mids[1:]):
        vertices += [bend, mid]
        codes += [MplPath.CURVE3, MplPath.CURVE3]
    vertices.append(points[-1])
    codes.append(MplPath.LINETO)
    return MplPath(vertices, codes)


def _fit(text, n):
    return text if len(text) <= n else text[:n - 1] + "…"


def save(scene, path):
    """Writes the scene as SVG (the scene embedded, see embedded_scene) or PNG, atomically."""
    path = Path(path)
    figure = draw(scene)
    buffer = io.BytesIO()
    if path.suffix == ".svg":
        with matplotlib.rc_context({"svg.hashsalt": "cadl_graph", "svg.fonttype": "none"}):
            figure.savefig(buffer, format="svg", metadata={
                "Date": None, "Creator": "cadl_graph",
                "Description": json.dumps(scene.to_json(), sort_keys=True)})
    elif path.suffix == ".png":
        figure.savefig(buffer, format="png", dpi=110)
    else:
        raise ValueError(f"{path}: pictures are .svg or .png")
    fileio.atomic_write_bytes(path, buffer.getvalue())
    return path


def embedded_scene(path):
    """The scene an SVG written by save() holds (plain data, as Scene.to_json gives it)."""
    root = ElementTree.parse(path).getroot()
    element = root.find(f".//{SVG_DESCRIPTION}")
    if element is None or not element.text:
        raise ValueError(f"{path} holds no cadl_graph scene (was it written by save()?)")
    return json.loads(element.text)
