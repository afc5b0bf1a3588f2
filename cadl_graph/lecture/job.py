"""The lecture's cells, run end to end, with a report that puts its numbers beside ours.

`run_lecture()` is the main job (`make lecture`):

1. the data cells In[2]-[8] (shape, montage, mean and std images);
2. every model trained with its lecture recipe, in the lecture's order: the fully connected
   and convolutional autoencoders, the denoising autoencoder and the two VAEs of the
   "resources", the linear and the convolutional classifier;
3. the inspection cells: Out[48] against our op names, `layer1/W:0` fetched by name, the
   kernels of the conv classifier (pictures are drawn by the training runs);
4. the checkpoint cells In[70]-[71], done right: the conv classifier's checkpoint restored into
   a freshly built graph scores exactly what the trained session scored;
5. the protobuf cells: the conv classifier frozen to `export/conv_classifier.pb`, loaded back
   with ParseFromString + import_graph_def and scored in Python, and scored by the C++ loader
   (`loader`, e.g. `build/load_graph`, which `make lecture` builds) on the same held-out
   images, written as IDX files; then the same as a SavedModel
   (`export/conv_classifier_saved_model/`), scored the same two ways;
6. REPORT.md in the output folder (`cadl_graph.lecture.report`).

Each model trains in `<out_dir>/<model>`; rerunning resumes from those checkpoints, so a killed
run loses little and a finished one reports again in seconds. `quick=True` trains every model
for 2 epochs on 3000 images: every step runs, in about a minute, but the numbers mean nothing.
"""

import subprocess
import time
from pathlib import Path

import numpy as np

from cadl_graph import fileio, graphfile
from cadl_graph.data import idx
from cadl_graph.data.datasets import IMAGE_SIZE, MNIST, N_CLASSES, Dataset
from cadl_graph.errors import Error
from cadl_graph.export import freeze, predict
from cadl_graph.graphs import registry
from cadl_graph.lecture import report
from cadl_graph.lecture.report import QUICK_EPOCHS, QUICK_IMAGES
from cadl_graph.teach import renames
from cadl_graph.training import rundir
from cadl_graph.training.loop import train
from cadl_graph.training.scoring import evaluate
from cadl_graph.training.session import TrainConfig, load_dataset

TENSORBOARD = "tensorboard"  # under the lecture's folder: one event folder per model
from cadl_graph.viz import images

# Enlarge 28 x 28 pictures so a single digit is visible at a glance.
SMALL_IMAGE_SCALE = 8

# The order in which the lecture (and its resources) present the models.
ORDER = ("fc_autoencoder", "conv_autoencoder", "denoising_autoencoder", "vae", "conv_vae",
         "linear_classifier", "conv_classifier")

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
    return {"ds": ds, "shape": ds.X.shape, **paths}


def training_dataset(model, seed=0, data_dir=None, quick=False):
    """The Dataset `model` trains on, with its registry split (3000 images when quick)."""
    ds = load_dataset(model, seed=seed, data_dir=data_dir)
    if not quick:
        return ds
    return Dataset(ds.X[:QUICK_IMAGES], ds.Y[:QUICK_IMAGES].argmax(axis=1), split=ds.split,
                   one_hot=True, n_classes=N_CLASSES, seed=seed)


def inspection_cells():
    """In[48]: the lecture's op listing against ours. Returns the coverage line."""
    model = registry.build_in_new_graph("lecture_sequence")
    rows = renames.explain(renames.lecture_names(),
                           [op.name for op in model.graph.get_operations()])
    line = renames.coverage_line(rows)
    print(line)
    W = model.graph.get_tensor_by_name("layer1/W:0")
    print(f"layer1/W:0 has shape {tuple(W.shape.as_list())}")
    return line


def checkpoint_cells(train_dir, ds):
    """In[70]-[71] done right: restore a saved classifier into a new graph and score it.

    Returns:
      (prefix, test accuracy of the restored graph).
    """
    saved = rundir.open_run(train_dir)
    with saved.restore() as (sess, feeder):
        accuracy = evaluate(sess, feeder, ds.test)
    print(f"Model restored from {saved.prefix}: test accuracy {accuracy:.6f}")
    return saved.prefix, accuracy


class LoaderError(Error, RuntimeError):
    """The C++ loader is missing or failed."""


def _cpp_accuracy(loader, graph, images_file, labels_file):
    """The accuracy the C++ loader prints for `graph` (a .pb or a SavedModel folder)."""
    if not Path(loader).is_file():
        raise LoaderError(f"C++ loader {loader} does not exist; build it with make cc")
    done = subprocess.run([str(loader), f"--graph={graph}", f"--images={images_file}",
                           f"--labels={labels_file}"], capture_output=True, text=True,
                          check=False)
    line = next((l for l in done.stdout.splitlines() if l.startswith("accuracy ")), None)
    if done.returncode != 0 or line is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise LoaderError(f"{loader} failed (exit {done.returncode}): {last}")
    return float(line.split()[1])


def protobuf_cells(train_dir, ds, out_dir, loader=None):
    """Freeze the conv classifier, load it back, score it in Python and in C++; then the same
    as a SavedModel.

    Args:
      loader: path of the C++ loader (`make cc` builds build/load_graph), or None to skip it.

    Returns:
      dict: path, python (accuracy of the re-imported graph), cpp (accuracy printed by the C++
      loader, or None when skipped), images (how many were scored), saved_model (its path,
      python and cpp accuracies, likewise).

    Raises:
      LoaderError: `loader` is not a file, or it failed.
    """
    out_dir = Path(out_dir)
    pb = out_dir / "conv_classifier.pb"
    signature = freeze.export(train_dir, pb)
    graph_def = graphfile.load_graph_def(pb)           # GraphDef.ParseFromString
    pixels = idx.to_pixels(ds.test.images, IMAGE_SIZE)
    labels = ds.test.labels.argmax(axis=1).astype(np.uint8)
    images_file = idx.write_idx(out_dir / "test-images-idx3-ubyte", pixels)
    labels_file = idx.write_idx(out_dir / "test-labels-idx1-ubyte", labels)
    images = pixels.reshape(len(pixels), -1) / np.float32(255)

    def accuracy(probabilities):
        return float(np.mean(probabilities.argmax(axis=1) == labels))

    python = accuracy(predict.run_graph(graph_def, images))
    print(f"wrote {pb} ({len(graph_def.node)} nodes, step {signature['step']}); "
          f"re-imported in Python: test accuracy {python:.6f}")
    if loader is None:
        print("C++ loader not built (make cc builds build/load_graph); skipped")
    cpp = None if loader is None else _cpp_accuracy(loader, pb, images_file, labels_file)
    if cpp is not None:
        print(f"C++ {Path(loader).name}: test accuracy {cpp:.6f}")
    folder = out_dir / "conv_classifier_saved_model"
    freeze.export(train_dir, folder, output_format="saved_model")
    saved = dict(path=folder, python=accuracy(predict.run_graph(None, images,
                                                                saved_model=folder)),
                 cpp=None if loader is None else _cpp_accuracy(loader, folder, images_file,
                                                               labels_file))
    print(f"wrote {folder}: SavedModel test accuracy {saved['python']:.6f} in Python"
          + ("" if loader is None else f", {saved['cpp']:.6f} in C++"))
    return dict(path=pb, python=python, cpp=cpp, images=len(pixels), saved_model=saved,
                loader=Path(loader).name if loader else "load_graph (not built)")


def run_lecture(out_dir, data_dir=None, seed=0, quick=False, models=ORDER, loader=None):
    """Runs the whole lecture and writes `<out_dir>/REPORT.md`; returns everything measured.

    Args:
      loader: the C++ loader for the protobuf cells (None skips it, saying so).
    """
    started = time.monotonic()
    out_dir = Path(out_dir)
    results = {"data": data_cells(out_dir, data_dir=data_dir, seed=seed), "models": {}}
    times = {"data cells (In[2]-[8])": time.monotonic() - started}
    datasets = {}  # one per split: models with the same split share the (same) shuffle
    for name in models:
        spec = registry.get(name)
        split = tuple(spec.split)
        if split not in datasets:
            datasets[split] = training_dataset(name, seed=seed, data_dir=data_dir, quick=quick)
        print(f"\n== {name} ({spec.cells}) ==")
        # TensorBoard: one folder per model, so its runs list shows each graph and its curves.
        config = TrainConfig(model=name, seed=seed, train_dir=str(out_dir / name),
                             data_dir=data_dir, epochs=QUICK_EPOCHS if quick else None,
                             logdir=str(out_dir / TENSORBOARD / name))
        result = train(config, ds=datasets[split])
        result["curve"] = report.training_curve(name, result["epochs"],
                                                out_dir / name / "pictures")
        results["models"][name] = result
    mark = time.monotonic()
    print("\n== inspection (In[48]-[51], In[67]-[68]) ==")
    results["out48"] = inspection_cells()
    if "conv_classifier" in models:
        print("\n== checkpoint (In[70]-[71]) ==")
        classifier_ds = datasets[tuple(registry.get("conv_classifier").split)]
        results["restored"] = checkpoint_cells(out_dir / "conv_classifier", classifier_ds)
        print("\n== protobuf (Saving/Loading Models) ==")
        results["protobuf"] = protobuf_cells(out_dir / "conv_classifier", classifier_ds,
                                             out_dir / "export", loader)
    times["inspection, checkpoint and protobuf cells"] = time.monotonic() - mark
    results["seconds"] = time.monotonic() - started
    results["times"] = times
    report_path = out_dir / "REPORT.md"
    fileio.atomic_write_bytes(report_path, report.render(results, seed, quick).encode())
    print(f"\nwrote {report_path} ({results['seconds']:.0f} s in all)")
    return results
