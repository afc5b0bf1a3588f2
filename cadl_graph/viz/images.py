"""Pictures of what the lecture shows: montages of images and kernels, PNG files.

Arrays become pictures in one way everywhere (`to_rgb8`): values are scaled from [vmin, vmax]
(default: the array's own min and max, as matplotlib's imshow does) through a matplotlib
colormap to 8-bit RGB. PNGs and GIFs (`cadl_graph.viz.gif`) are written with Pillow, which
matplotlib already depends on, and atomically.
"""

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from PIL import Image

from cadl_graph import fileio

BACKGROUND = 0.5


def montage(images, n_cols=None):
    """Tiles images into a grid with 1-pixel borders on a 0.5 background.

    Args:
      images: array or list of N images, [N, H, W] or [N, H, W, C].
      n_cols: images per row (then rows = ceil(N / n_cols)); default: a square grid of
        n x n cells, n = ceil(sqrt(N)), as the course drew it.

    Returns:
      float array [rows*H + rows + 1, cols*W + cols + 1] (or [..., C]); cell (i, j) holds
      image i*cols + j, and cells past N stay background.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or images.shape[0] == 0:
        raise ValueError(
            f"montage needs a non-empty batch [N, H, W] or [N, H, W, C], got shape "
            f"{images.shape}"
        )
    n, h, w = images.shape[:3]
    if n_cols is None:  # the course's square grid, even when the last rows stay empty
        rows = cols = int(np.ceil(np.sqrt(n)))
    else:
        cols, rows = n_cols, int(np.ceil(n / n_cols))
    out = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1) + images.shape[3:], BACKGROUND,
                  dtype=np.result_type(images.dtype, np.float32))
    for k, image in enumerate(images):
        i, j = divmod(k, cols)
        out[1 + i * (h + 1):(i + 1) * (h + 1), 1 + j * (w + 1):(j + 1) * (w + 1)] = image
    return out


def montage_filters(W):
    """Tiles every 2-D kernel of a convolution weight [h, w, in, out] into one montage.

    Kernel (c_in, c_out) lands at position c_in * out + c_out, so each row of the grid walks
    the output channels of one input channel when out is a perfect square.

    Returns:
      float array as `montage` returns for in*out images of h x w.
    """
    W = np.asarray(W)
    if W.ndim != 4:
        raise ValueError(f"montage_filters needs weights [h, w, in, out], got shape {W.shape}")
    h, w = W.shape[:2]
    return montage(W.transpose(2, 3, 0, 1).reshape(-1, h, w))


def to_rgb8(image, cmap="gray", vmin=None, vmax=None, scale=1):
    """Maps an image to uint8 RGB [H*scale, W*scale, 3].

    Args:
      image: [H, W] or [H, W, 1] values drawn through `cmap` after scaling [vmin, vmax] to
        [0, 1] (defaults: the image's min and max), or [H, W, 3] RGB (uint8 as is, floats
        taken to lie in [0, 1]).
      scale: integer enlargement with square pixels (nearest neighbour).
    """
    rgb = _to_rgb8(np.asarray(image), cmap, vmin, vmax)
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    return rgb


def _to_rgb8(image, cmap, vmin, vmax):
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[2] == 3:
        if image.dtype == np.uint8:
            return image
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if image.ndim != 2:
        raise ValueError(f"an image must be [H, W], [H, W, 1] or [H, W, 3], got {image.shape}")
    image = image.astype(np.float64)
    norm = Normalize(vmin=image.min() if vmin is None else vmin,
                     vmax=image.max() if vmax is None else vmax, clip=True)
    return colormaps[cmap](norm(image), bytes=True)[..., :3]


def save_png(path, image, cmap="gray", vmin=None, vmax=None, scale=1):
    """Writes `image` (see `to_rgb8`) as a PNG, enlarged `scale` times with square pixels."""
    rgb = to_rgb8(image, cmap=cmap, vmin=vmin, vmax=vmax, scale=scale)
    with fileio.atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")
    return path


def load_gray(path):
    """A PNG as a float array [H, W] in [0, 1] (the mean of its colour channels)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
