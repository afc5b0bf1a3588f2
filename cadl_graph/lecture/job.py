"""The lecture's cells, run end to end, with a report that puts its numbers beside ours.

`run()` is the main job (`make lecture`):

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
   images, written as IDX files;
6. REPORT.md in the output folder.

Each model trains in `<out_dir>/<model>`; rerunning resumes from those checkpoints, so a killed
run loses little and a finished one reports again in seconds. `quick=True` trains every model
for 2 epochs on 3000 images: every step runs, in about a minute, but the numbers mean nothing.
"""

import datetime
import subprocess
import time
from pathlib import Path

import numpy as np

from cadl_graph import fileio, graphfile
from cadl_graph.compat import tf
from cadl_graph.data import idx
from cadl_graph.data.datasets import IMAGE_SIZE, MNIST, N_CLASSES, Dataset
from cadl_graph.errors import Error
from cadl_graph.export import freeze as export
from cadl_graph.export import predict
from cadl_graph.golden import listing as golden
from cadl_graph.graphs import registry
from cadl_graph.teach import renames
from cadl_graph.training import kinds, rundir
from cadl_graph.training.loop import TrainConfig, load_dataset, train
from cadl_graph.training.scoring import evaluate
from cadl_graph.viz import figures, images

# Enlarge 28 x 28 pictures so a single digit is visible at a glance.
SMALL_IMAGE_SCALE = 8
QUICK_IMAGES, QUICK_EPOCHS = 3000, 2
QUICK_NOTE = f", QUICK: {QUICK_EPOCHS} epochs on {QUICK_IMAGES} images, numbers not comparable"

# The order in which the lecture (and its resources) present the models.
ORDER = ("fc_autoencoder", "conv_autoencoder", "denoising_autoencoder", "vae", "conv_vae",
         "linear_classifier", "conv_classifier")

# What the lecture printed after each epoch (Out of In[20], In[30], In[47], In[66]) and at the
# end. Its "test" accuracies came from a test split that overlapped the training data.
LECTURE_NUMBERS = {
    "fc_autoencoder": dict(metric="last-batch cost",
                           epochs=[0.0441059, 0.0370064, 0.0365971, 0.0326115, 0.0331688]),
    "conv_autoencoder": dict(metric="last-batch cost",
                             epochs=[0.0262561, 0.0264586, 0.0247447, 0.0236072, 0.0234347]),
    "linear_classifier": dict(metric="valid accuracy", test=0.922143,
                              epochs=[0.891, 0.905571, 0.907714, 0.915571, 0.913286]),
    "conv_classifier": dict(metric="valid accuracy", test=0.997429,
                            epochs=[0.946571, 0.963714, 0.966714, 0.969714, 0.973571,
                                    0.972143, 0.971714, 0.975, 0.969429, 0.976857]),
}
# Quality bars of the project, compared in the report, never asserted in tests: (what, the
# result it reads, comparison, bar). The conv autoencoder is judged on held-out data: its
# lecture figure, the cost of one batch of 100, moves by +-0.0005 between epochs.
TARGETS = {
    "fc_autoencoder": ("last-batch cost after the last epoch", "last_batch_cost", "<=", 0.035),
    "conv_autoencoder": ("held-out test cost", "test", "<=", 0.025),
    "linear_classifier": ("held-out test accuracy", "test", ">=", 0.915),
    "conv_classifier": ("held-out test accuracy", "test", ">=", 0.975),
}
BATCH_NORM_NOTE = {
    "course": "the course's batch norm (its moving-average update sits outside the `tf.cond` "
              "and also runs at inference); every score and picture comes from the repaired "
              "copy (`batch_norm_update=in_cond`, same variables), so scoring moved nothing",
    "in_cond": "the repaired batch norm (`batch_norm_update=in_cond`: the update runs only "
               "while training)",
}


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
    lecture = golden.parse((golden.GOLDEN_DIR / "lecture" / "out48.txt").read_text())
    rows = renames.explain(lecture, [op.name for op in model.graph.get_operations()])
    line = renames.coverage_line(rows)
    print(line)
    print(f"layer1/W:0 has shape {tuple(model.graph.get_tensor_by_name('layer1/W:0').shape.as_list())}")
    return line


def checkpoint_cells(train_dir, ds):
    """In[70]-[71] done right: restore a saved classifier into a new graph and score it.

    Returns:
      (prefix, test accuracy of the restored graph).
    """
    with rundir.restore_model(train_dir) as (sess, feeder, saved):
        accuracy = evaluate(sess, feeder, ds.test)
    print(f"Model restored from {saved.prefix}: test accuracy {accuracy:.6f}")
    return saved.prefix, accuracy


class LoaderError(Error, RuntimeError):
    """The C++ loader is missing or failed."""


def protobuf_cells(train_dir, ds, out_dir, loader=None):
    """Freeze the conv classifier, load it back, score it in Python and in C++.

    Args:
      loader: path of the C++ loader (`make cc` builds build/load_graph), or None to skip it.

    Returns:
      dict: path, python (accuracy of the re-imported graph), cpp (accuracy printed by the C++
      loader, or None when skipped), images (how many were scored).

    Raises:
      LoaderError: `loader` is not a file, or it failed.
    """
    out_dir = Path(out_dir)
    pb = out_dir / "conv_classifier.pb"
    signature = export.export(train_dir, pb)
    graph_def = graphfile.load_graph_def(pb)           # GraphDef.ParseFromString
    pixels = np.round(ds.test.images * 255).astype(np.uint8)
    labels = ds.test.labels.argmax(axis=1).astype(np.uint8)
    images_file = fileio.atomic_write_bytes(out_dir / "test-images-idx3-ubyte",
                                            idx.encode_idx(pixels.reshape(-1, IMAGE_SIZE,
                                                                          IMAGE_SIZE)))
    labels_file = fileio.atomic_write_bytes(out_dir / "test-labels-idx1-ubyte",
                                            idx.encode_idx(labels))
    probabilities = predict.run(graph_def, pixels.reshape(len(pixels), -1) / np.float32(255))
    python = float(np.mean(probabilities.argmax(axis=1) == labels))
    print(f"wrote {pb} ({len(graph_def.node)} nodes, step {signature['step']}); "
          f"re-imported in Python: test accuracy {python:.6f}")
    cpp = None
    if loader is None:
        print("C++ loader not built (make cc builds build/load_graph); skipped")
    elif not Path(loader).is_file():
        raise LoaderError(f"C++ loader {loader} does not exist; build it with make cc")
    else:
        done = subprocess.run([str(loader), f"--graph={pb}", f"--images={images_file}",
                               f"--labels={labels_file}"], capture_output=True, text=True,
                              check=False)
        line = next((l for l in done.stdout.splitlines() if l.startswith("accuracy ")), None)
        if done.returncode != 0 or line is None:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise LoaderError(f"{loader} failed (exit {done.returncode}): {last}")
        cpp = float(line.split()[1])
        print(f"C++ {Path(loader).name}: test accuracy {cpp:.6f}")
    return dict(path=pb, python=python, cpp=cpp, images=len(pixels))


def run(out_dir, data_dir=None, seed=0, quick=False, models=ORDER, loader=None):
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
        config = TrainConfig(model=name, seed=seed, train_dir=str(out_dir / name),
                             data_dir=data_dir, epochs=QUICK_EPOCHS if quick else None)
        result = train(config, ds=datasets[split])
        result["curve"] = training_curve(name, result["epochs"], out_dir / name / "pictures")
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
    report = out_dir / "REPORT.md"
    fileio.atomic_write_bytes(report, render_report(results, seed, quick).encode())
    print(f"\nwrote {report} ({results['seconds']:.0f} s in all)")
    return results


def _time_table(results):
    """Where the run's time went: each model's training loop and the rest of its run
    (building the graphs, scoring, pictures), and the other cells."""
    total = results.get("seconds") or 0.0
    rows = []
    for name, result in results["models"].items():
        loop = result.get("train_seconds") or 0.0
        rows.append(f"| {name} | {result['seconds']:.0f} | {loop:.0f} | "
                    f"{result['seconds'] - loop:.0f} |")
    rows += [f"| {what} | {seconds:.0f} | | |"
             for what, seconds in results.get("times", {}).items()]
    return ["## Where the time went", "",
            f"{total:.0f} s in all (a resumed run trains nothing: its loop times are 0).", "",
            "| part | seconds | training loop | graphs, scoring, pictures |",
            "| --- | --- | --- | --- |", *rows, ""]


def _fmt(value, digits=6):
    return "n/a" if value is None else f"{value:.{digits}f}"


def training_curve(name, history, out_dir):
    """Our per-epoch figure beside the lecture's printed numbers, as `curve.png`."""
    kind = kinds.of(name)
    series = dict(kind.curves(history))
    lecture = LECTURE_NUMBERS.get(name)
    if lecture:
        series[f"lecture: {lecture['metric']}"] = lecture["epochs"]
    return figures.save_curves(series, Path(out_dir) / "curve.png",
                               f"{name} ({registry.get(name).cells})", kind.metric_name)


def render_report(results, seed, quick):
    """REPORT.md: the lecture's printed numbers beside ours, targets, pictures."""
    lines = [
        "# CADL Session 3, rerun",
        "",
        f"Generated {datetime.datetime.now().isoformat(timespec='seconds')} by "
        f"`scripts/lecture.py` (seed {seed}{QUICK_NOTE if quick else ''}), "
        f"TensorFlow {tf.__version__}, {results.get('seconds', 0):.0f} s.",
        "",
        "The classifiers and VAEs train on MNIST split [0.8, 0.1, 0.1] (56000 / 7000 / 7000, "
        "disjoint), the tied autoencoders on [0.9, 0.0, 0.1] (the lecture trained them on all "
        "70000 images and validated nothing). The lecture's printed *test* accuracies came "
        "from a test split that overlapped the training data: compare our test numbers with "
        "its *valid* ones.",
        "",
        "## Data (In[2]-[8])",
        "",
        f"Shape: lecture `(70000, 784)`, ours `{results['data']['shape']}`. Pictures: "
        "[montage](montage.png), [mean](mean.png), [std](std.png), "
        "[first image](first_image.png).",
        "",
    ]
    for name, result in results["models"].items():
        spec = registry.get(name)
        lecture = LECTURE_NUMBERS.get(name, {})
        lines += [f"## {name} ({spec.cells})", ""]
        lines += ["| epoch | lecture | ours | images/s |", "| --- | --- | --- | --- |"]
        for record in result["epochs"]:
            ours = kinds.of(name).report_cell(record)
            theirs = lecture.get("epochs", [])
            lecture_value = _fmt(theirs[record["epoch"]]) if record["epoch"] < len(theirs) \
                else "-"
            lines.append(f"| {record['epoch']} | {lecture_value} | {ours} | "
                         f"{record['images_per_s']:.0f} |")
        metric = result["test_metric"].replace("_", " ")
        lines += ["", f"Held-out {metric}: **{_fmt(result['test'])}** "
                      f"(lecture's overlapping test split: {_fmt(lecture.get('test'))})."
                  if "test" in lecture else f"Held-out {metric}: **{_fmt(result['test'])}**.",
                  ""]
        update = result.get("hparams", {}).get("batch_norm_update")
        if update:
            lines += [f"Trained graph: {BATCH_NORM_NOTE[update]}.", ""]
        target = TARGETS.get(name)
        if target:
            what, key, op, bar = target
            value = result["test"] if key == "test" else (
                result["epochs"][-1][key] if result["epochs"] else None)
            met = value is not None and (value <= bar if op == "<=" else value >= bar)
            lines += [f"Target: {what} {op} {bar}: {_fmt(value)}, "
                      f"{'met' if met else 'NOT met'}.", ""]
        if result.get("curve"):
            curve = Path(result["curve"]).relative_to(Path(result["curve"]).parents[2])
            lines += [f"![{name}: per epoch, ours beside the lecture's]({curve})", ""]
        if result["pictures"]:
            links = ", ".join(f"[{key}]({Path(path).relative_to(Path(path).parents[2])})"
                              for key, path in result["pictures"].items())
            lines += [f"Pictures: {links}.", ""]
    lines += ["## Inspection (In[48])", "", results["out48"] + ".", ""]
    if "restored" in results:
        prefix, accuracy = results["restored"]
        trained = results["models"]["conv_classifier"]["test"]
        lines += ["## Checkpoint (In[70]-[71])", "",
                  f"Restored `{Path(prefix).name}` into a freshly built conv_classifier graph: "
                  f"test accuracy {_fmt(accuracy)} (the training session scored "
                  f"{_fmt(trained)}).", ""]
    lines += _time_table(results)
    if "protobuf" in results:
        frozen = results["protobuf"]
        cpp = ("not built" if frozen["cpp"] is None else f"**{_fmt(frozen['cpp'])}**")
        lines += ["## Protobuf export (Saving/Loading Models)", "",
                  f"`export/{Path(frozen['path']).name}`, re-imported in Python: test accuracy "
                  f"**{_fmt(frozen['python'])}**; C++ `build/load_graph` on the same "
                  f"{frozen['images']} held-out images: {cpp}.", ""]
    return "\n".join(lines)
