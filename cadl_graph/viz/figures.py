"""Pictures of trained models, as the lecture draws them.

Functions here take numpy arrays (values already fetched from a session) and write files
atomically; they know nothing of graphs or training. Weights use the diverging `coolwarm` map
centred on zero, as the lecture's imshow(cmap='coolwarm') cells do.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cadl_graph import fileio
from cadl_graph.data.datasets import IMAGE_SIZE
from cadl_graph.viz import gif, images

DIGIT = (IMAGE_SIZE, IMAGE_SIZE)


def _symmetric(values):
    limit = float(np.abs(values).max()) or 1.0
    return -limit, limit


def reconstruction_montage(recon, mean_img=None):
    """Montage of reconstructions [N, 784] (plus the mean image when the model saw
    `x - mean`), clipped to [0, 1]: the lecture's In[20] picture."""
    recon = np.asarray(recon).reshape(-1, *DIGIT)
    if mean_img is not None:
        recon = recon + np.asarray(mean_img).reshape(DIGIT)
    return images.montage(np.clip(recon, 0.0, 1.0))


def save_reconstructions(frames, out_dir, name):
    """Writes the last frame as `<name>.png` and all frames as `<name>.gif`."""
    png = images.save_png(out_dir / f"{name}.png", frames[-1], vmin=0.0, vmax=1.0)
    animation = gif.build_gif(frames, saveto=out_dir / f"{name}.gif", interval=0.5,
                              vmin=0.0, vmax=1.0)
    return png, animation


def save_linear_weights(W, path, scale=4):
    """Each column of W [784, 10] as a 28x28 image, side by side (the lecture's In[51]).

    Like the lecture's ten separate imshow calls, each column gets its own colour scale
    (symmetric around zero, so white is always a zero weight); one shared scale would let a
    few extreme weights wash out the other nine digits.
    """
    W = np.asarray(W, dtype=np.float64)
    limits = np.abs(W).max(axis=0)
    columns = (W / np.where(limits > 0, limits, 1.0)).T.reshape(-1, *DIGIT)
    row = images.montage(columns, n_cols=W.shape[1])
    # The montage's 0.5 borders would read as a strong positive weight; draw them at zero.
    row[row == images.BACKGROUND] = 0.0
    return images.save_png(path, row, cmap="coolwarm", vmin=-1.0, vmax=1.0, scale=scale)


def save_filters(W, path, scale=None):
    """Every kernel of W [h, w, in, out] in one montage (the lecture's In[67]-[68]).

    `scale` enlarges each pixel; by default 4 for a small montage, 2 for a large one.
    """
    W = np.asarray(W)
    vmin, vmax = _symmetric(W)
    m = images.montage_filters(W)
    m[m == images.BACKGROUND] = 0.0
    scale = scale or (4 if m.shape[0] < 100 else 2)
    return images.save_png(path, m, cmap="coolwarm", vmin=vmin, vmax=vmax, scale=scale)


def latent_grid(n_code, n=10, extent=2.0, rng=None):
    """Codes to decode into a manifold picture: float32 [n*n, n_code].

    For a 2-D code, an even n x n grid over [-extent, extent]^2 (rows top to bottom are z[1]
    from +extent down). For larger codes, the course's plane: bilinear interpolation between
    four random corners in [-1, 1]^n_code.
    """
    if n_code == 2:
        ticks = np.linspace(-extent, extent, n)
        return np.array([[x, y] for y in ticks[::-1] for x in ticks], np.float32)
    rng = rng or np.random.default_rng(0)
    corners = rng.uniform(-1.0, 1.0, (4, n_code))
    left = np.linspace(corners[0], corners[1], n)
    right = np.linspace(corners[2], corners[3], n)
    return np.concatenate([np.linspace(l, r, n) for l, r in zip(left, right)]).astype(np.float32)


def save_scatter(z, labels, path, title="test-set codes"):
    """Scatter of 2-D codes z [N, 2] coloured by digit label [N]."""
    z, labels = np.asarray(z), np.asarray(labels)
    fig = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=3, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title)
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def save_side_by_side(corrupted, recon, path, n=50):
    """Pairs of corrupted input and its reconstruction, alternating columns."""
    corrupted = np.asarray(corrupted)[:n].reshape(-1, *DIGIT)
    recon = np.asarray(recon)[:n].reshape(-1, *DIGIT)
    pairs = np.stack([corrupted, recon], axis=1).reshape(-1, *DIGIT)
    return images.save_png(path, images.montage(np.clip(pairs, 0, 1), n_cols=10), vmin=0.0,
                           vmax=1.0, scale=2)


def save_curves(series, path, title, ylabel, x=None, xlabel="epoch", log=False):
    """Lines, one per series ({label: [value or None per x]}), as a PNG.

    Args:
      x: the values' x positions (default 0, 1, ... : epochs).
      log: both axes logarithmic.

    Series named "lecture ..." are drawn dashed, so the lecture's printed numbers stand apart
    from ours.
    """
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for label, values in series.items():
        points = [(i, v) for i, v in zip(x or range(len(values)), values) if v is not None]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, "--s" if label.startswith("lecture") else "-o", markersize=3,
                    label=label)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
