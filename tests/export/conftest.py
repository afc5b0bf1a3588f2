"""What the export tests share: every registry model trained a few steps and exported, the
C++ loader, and held-out images as IDX files. Session-scoped: each test process makes them
once (pytest-xdist runs each test file in one process)."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from cadl_graph import graphfile
from cadl_graph.data import idx
from cadl_graph.data.datasets import Dataset
from cadl_graph.export import freeze
from cadl_graph.graphs import registry
from cadl_graph.training.loop import train
from cadl_graph.training.session import TrainConfig, load_dataset

ROOT = Path(__file__).resolve().parents[2]
LOADER = ROOT / "build" / "load_graph"


@pytest.fixture(scope="session")
def ds():
    full = load_dataset("linear_classifier", seed=0)
    return Dataset(full.X[:1200], full.Y[:1200].argmax(axis=1), split=[0.75, 0.0, 0.25],
                   one_hot=True, n_classes=10, seed=0)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, ds):
    """Every registry model trained 3 steps: {name: train_dir}."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name in registry.NAMES:
        train(TrainConfig(model=name, train_dir=str(root / name), max_steps=3, pictures=False),
              ds=ds, out=lambda *a: None)
        out[name] = root / name
    return out


@pytest.fixture(scope="session")
def exports(runs, tmp_path_factory):
    """Every registry model exported (part 'model'): {name: (path, graph_def, signature)}."""
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for name, train_dir in runs.items():
        path = root / f"{name}.pb"
        signature = freeze.export(train_dir, path)
        out[name] = (path, graphfile.load_graph_def(path), signature)
    return out


@pytest.fixture(scope="session")
def loader():
    done = subprocess.run(["make", "-s", "cc"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return LOADER


@pytest.fixture(scope="session")
def idx_files(tmp_path_factory, ds):
    """The held-out test images and labels as IDX files (exactly representable pixels)."""
    root = tmp_path_factory.mktemp("idx")
    pixels = np.round(ds.test.images * 255).astype(np.uint8)
    (root / "images").write_bytes(idx.encode_idx(pixels.reshape(-1, 28, 28)))
    (root / "labels").write_bytes(
        idx.encode_idx(ds.test.labels.argmax(axis=1).astype(np.uint8)))
    return root / "images", root / "labels", pixels.astype(np.float32) / 255.0
