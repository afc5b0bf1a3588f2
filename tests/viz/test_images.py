import os

import numpy as np
import pytest
from PIL import Image

from cadl_graph.viz import gif, images
from cadl_graph.viz.images import montage, montage_filters


def test_montage_grid_shape_borders_and_placement():
    imgs = np.stack([np.full((28, 28), i / 10.0) for i in range(10)])
    m = montage(imgs)
    assert m.shape == (4 * 29 + 1, 4 * 29 + 1)  # ceil(sqrt(10)) = 4 cells a side
    assert (m[0] == 0.5).all() and (m[:, 0] == 0.5).all() and (m[29] == 0.5).all()
    assert (m[1:29, 1:29] == 0.0).all()            # image 0 in cell (0, 0)
    assert (m[1:29, 30:58] == 0.1).all()           # image 1 in cell (0, 1)
    assert (m[30:58, 1:29] == 0.4).all()           # image 4 in cell (1, 0)
    assert (m[88:116, 30:58] == 0.5).all()         # past N: background


def test_montage_of_colour_images_keeps_channels():
    m = montage(np.zeros((4, 5, 6, 3)))
    assert m.shape == (2 * 6 + 1, 2 * 7 + 1, 3)


def test_montage_rejects_non_batches():
    with pytest.raises(ValueError, match="non-empty batch"):
        montage(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="non-empty batch"):
        montage(np.zeros((0, 28, 28)))


def test_montage_filters_lays_out_every_kernel():
    W = np.zeros((5, 5, 2, 3))
    W[:, :, 1, 2] = 1.0                            # kernel (in=1, out=2) is index 1*3+2 = 5
    m = montage_filters(W)
    assert m.shape == (3 * 6 + 1, 3 * 6 + 1)      # 6 kernels -> 3 x 3 grid
    assert (m[7:12, 13:18] == 1.0).all()           # index 5 is row 1, column 2
    assert m[1:6, 1:6].sum() == 0
    assert montage_filters(np.zeros((5, 5, 1, 32))).shape == (6 * 6 + 1, 6 * 6 + 1)
    with pytest.raises(ValueError, match=r"\[h, w, in, out\]"):
        montage_filters(np.zeros((5, 5, 3)))


def test_to_rgb8_scales_through_the_colormap():
    rgb = images.to_rgb8(np.array([[0.0, 2.0]]), scale=3)
    assert rgb.shape == (3, 6, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[0, 5].tolist() == [255, 255, 255]
    warm = images.to_rgb8(np.array([[-1.0, 1.0]]), cmap="coolwarm")
    assert warm[0, 0, 2] > warm[0, 0, 0] and warm[0, 1, 0] > warm[0, 1, 2]  # blue, then red


def test_save_png_writes_a_readable_picture(tmp_path):
    path = images.save_png(tmp_path / "sub" / "m.png", montage(np.ones((9, 4, 4))), scale=2)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size == (2 * 16, 2 * 16)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.png"]  # no temp file left


def test_build_gif_writes_every_frame(tmp_path):
    frames = [np.full((10, 12), float(i)) for i in range(4)]
    path = gif.build_gif(frames, saveto=tmp_path / "a.gif", interval=0.2)
    with Image.open(path) as animation:
        assert animation.size == (12, 10) and animation.n_frames == 4
        animation.seek(3)
        assert animation.convert("L").getpixel((0, 0)) == 255  # shared vmin/vmax over frames
    with pytest.raises(ValueError, match="at least one frame"):
        gif.build_gif([], saveto=tmp_path / "b.gif")
    with pytest.raises(ValueError, match="one shape"):
        gif.build_gif([np.zeros((2, 2)), np.zeros((3, 3))], saveto=tmp_path / "c.gif")


def test_written_files_get_ordinary_permissions(tmp_path):
    path = images.save_png(tmp_path / "p.png", np.zeros((2, 2)))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_montage_with_a_fixed_number_of_columns():
    m = montage(np.zeros((10, 28, 28)), n_cols=10)
    assert m.shape == (29 + 1, 10 * 29 + 1)
    assert montage(np.zeros((7, 3, 3)), n_cols=3).shape == (3 * 4 + 1, 3 * 4 + 1)
