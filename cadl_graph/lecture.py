"""The lecture's cells, run end to end and written to one folder.

So far: the data cells In[2]-In[8] (load MNIST, its shape, a montage of the first 1000 images,
the mean and standard deviation images). The model cells join as their graphs land.
"""

import logging
from pathlib import Path

import numpy as np

from cadl_graph import images
from cadl_graph.datasets import IMAGE_SIZE, MNIST

log = logging.getLogger(__name__)

# Enlarge 28 x 28 pictures so a single digit is visible at a glance.
SMALL_IMAGE_SCALE = 8


def data_cells(out_dir, data_dir=None, seed=0):
    """In[2]-In[8]: load MNIST, print its shape, draw the first 1000 images, mean and std.

    Returns:
      dict with the Dataset ("ds"), "shape", and the paths of the pictures written.
    """
    out_dir = Path(out_dir)
    ds = MNIST(one_hot=True, seed=seed, data_dir=data_dir)   # In[2]
    print(ds.X.shape)                                        # In[4]
    first = ds.X[0].reshape(IMAGE_SIZE, IMAGE_SIZE)          # In[5]: imshow's default cmap
    imgs = ds.X[:1000].reshape(-1, IMAGE_SIZE, IMAGE_SIZE)   # In[6]
    mean_img = np.mean(ds.X, axis=0)                         # In[7]
    std_img = np.std(ds.X, axis=0)                           # In[8]
    side = (IMAGE_SIZE, IMAGE_SIZE)
    paths = {
        "first_image": images.save_png(out_dir / "first_image.png", first, cmap="viridis",
                                       scale=SMALL_IMAGE_SCALE),
        "montage": images.save_png(out_dir / "montage.png", images.montage(imgs)),
        "mean": images.save_png(out_dir / "mean.png", mean_img.reshape(side),
                                scale=SMALL_IMAGE_SCALE),
        "std": images.save_png(out_dir / "std.png", std_img.reshape(side), cmap="viridis",
                               scale=SMALL_IMAGE_SCALE),
    }
    for name, path in paths.items():
        log.info("wrote %s: %s", name, path)
    return {"ds": ds, "shape": ds.X.shape, **paths}


def run(out_dir, data_dir=None, seed=0):
    """Runs every lecture cell built so far; returns what each step produced."""
    return {"data": data_cells(out_dir, data_dir=data_dir, seed=seed)}
