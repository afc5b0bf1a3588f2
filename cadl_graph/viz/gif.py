"""Animated GIFs from lists of frames, as the course's `libs.gif.build_gif` made them.

The course drew frames into a matplotlib figure and saved the animation; here each frame is
mapped straight to pixels (one pixel per array element, `scale` to enlarge), so a 291 x 291
montage becomes a 291 x 291 GIF with no axes or margins.
"""

import numpy as np
from PIL import Image

from cadl_graph import fileio
from cadl_graph.viz.images import to_rgb8


def build_gif(imgs, saveto="animation.gif", interval=0.1, cmap="gray", vmin=None, vmax=None,
              scale=1, loop=0):
    """Writes the frames `imgs` as an animated GIF and returns `saveto`.

    Args:
      imgs: non-empty list of frames, each [H, W], [H, W, 1] or [H, W, 3] (see
        `cadl_graph.viz.images.to_rgb8`), all the same size.
      saveto: the GIF's path; written atomically.
      interval: seconds per frame.
      cmap, vmin, vmax: how single-channel frames become colours. vmin and vmax default to the
        min and max over ALL frames, so brightness does not flicker from frame to frame.
      scale: integer enlargement with square pixels.
      loop: how many times to play (0 = forever).
    """
    frames = [np.asarray(f) for f in imgs]
    if not frames:
        raise ValueError("build_gif needs at least one frame")
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f"all frames must have one shape, got {sorted({f.shape for f in frames})}")
    vmin = min(float(f.min()) for f in frames) if vmin is None else vmin
    vmax = max(float(f.max()) for f in frames) if vmax is None else vmax
    pictures = [Image.fromarray(to_rgb8(f, cmap=cmap, vmin=vmin, vmax=vmax, scale=scale))
                 for f in frames]
    with fileio.atomic_path(saveto) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=int(round(interval * 1000)), loop=loop)
    return saveto
