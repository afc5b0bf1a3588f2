"""Speed of this project's training loop beside a bare graph-mode loop, Keras 3 and PyTorch.

    cadl-graph benchmark             # make bench: every model, 3 rounds
    cadl-graph benchmark --quick     # the linear classifier, 1 round, a few steps

Every figure comes from a fresh process (`python -m cadl_graph.commands.benchmark --worker=...`,
or for PyTorch
`python -m cadl_graph.bench.peers` under `--torch_python`), and the implementations take turns
round by round (A B C A B C ...), so the machine's drift hits them all alike. For each model:

  project       this project's `train()` loop, and scoring through `rundir.open_run(...).restore()`
  project_k10   the same with `steps_per_run=10` (`project_k100`: 100): K steps per Session.run
  bare          the registry graph in a plain Session with a feed_dict per step: the floor
  keras_fit     the same architecture as a Keras 3 model, `fit` (the four lecture models)
  keras_fit_k10 `fit(..., steps_per_execution=10)`: Keras's own K steps per call
  keras_step    the same Keras model with a custom `tf.function` training step
  keras_xla     that step compiled by XLA (`tf.function(jit_compile=True)`)
  torch         the same architecture in PyTorch, eager (when an interpreter has torch)
  torch_compile the same, its model and step compiled by `torch.compile`
  export_py     the frozen export scored in Python (`predict.Runner`)
  export_cpp    the frozen export scored by the C++ loader (`build/load_graph`)

Reported: training and scoring images/s (median, min-max), ratios to the bare loop and to the
best peer, the share of the machine's measured float32 matmul rate that a figure uses
(forward FLOPs per image x 3 for training), each process's peak memory, and whether the
held-out metric improved (nothing is fast because it is broken). For the conv classifier,
images/s and memory against batch size, training and inference, Python and C++, with a plot.
"""

import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cadl_graph import fileio
from cadl_graph.bench import peers
from cadl_graph.errors import Error
from cadl_graph.graphs import registry
from cadl_graph.viz import figures

# The project's training loop as each row runs it: (K training steps per Session.run, the
# step compiled by XLA), as `--steps_per_run=K` and `--xla` set them.
PROJECT_LOOPS = {"project": (1, False), "project_k10": (10, False),
                 "project_k100": (100, False), "project_k100_xla": (100, True)}
# Each peer: (framework, style), as `peers` runs it.
PEER_STYLES = {"keras_fit": ("keras", "fit"), "keras_fit_k10": ("keras", "fit_k10"),
               "keras_step": ("keras", "step"), "keras_xla": ("keras", "xla"),
               "torch": ("torch", "eager"), "torch_compile": ("torch", "compile")}
PEERS = tuple(PEER_STYLES)
TRAINERS = (*PROJECT_LOOPS, "bare", *PEERS)
SCORERS = ("export_py", "export_cpp")
# Steps per training measurement: a few seconds each on 2 cores.
STEPS = dict(linear_classifier=3000, conv_classifier=600, fc_autoencoder=1000,
             conv_autoencoder=800, lecture_sequence=3000, vae=500, conv_vae=120,
             denoising_autoencoder=500)
SCALING_MODEL = "conv_classifier"
SCALING_BATCHES = (1, 10, 50, 100, 500, 1000)
N_TRAIN, N_TEST = 20000, 2000
# Images each export scores: the held-out set repeated, so that even the slowest export runs
# for seconds (2,000 images took 0.1-0.5 s, too short a window on a shared machine).
EXPORT_IMAGES = 10000


def machine():
    """What the figures were measured on: CPU, cores, versions, float32 matmul GFLOP/s."""
    cpu = platform.processor() or "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    return dict(cpu=cpu, cores=os.cpu_count(), avx512="avx512f" in flags,
                python=platform.python_version(), matmul_gflops=2 * 2048 ** 3 / best / 1e9)


def prepare_data(path):
    """The arrays every implementation trains and scores on, written to `path` (.npz)."""
    from cadl_graph.training.session import load_dataset
    ds = load_dataset("linear_classifier", seed=0)
    np.savez(path, x=ds.train.images[:N_TRAIN], y=ds.train.labels[:N_TRAIN],
             test_x=ds.test.images[:N_TEST], test_y=ds.test.labels[:N_TEST], mean=ds.mean())
    return path


class _Arrays:
    """The benchmark's data as the Dataset interface train() reads (no reshuffle)."""

    def __init__(self, path):
        from cadl_graph.data.datasets import DatasetSplit
        data, rng = np.load(path), np.random.default_rng(0)
        self._mean = data["mean"]
        self.train = DatasetSplit(data["x"], data["y"], rng)
        self.test = DatasetSplit(data["test_x"], data["test_y"], rng)
        self.valid = DatasetSplit(data["x"][:0], data["y"][:0], rng)
        self.X, self.split = data["x"], (1.0, 0.0, 0.0)

    def mean(self):
        return self._mean


def forward_flops(name):
    """Multiply-adds x 2 of one image's forward pass (its MatMul and convolution ops)."""
    from cadl_graph.graphs.model import ancestors
    total = 0
    for op in ancestors([registry.build_in_new_graph(name).y]):
        if op.type == "MatMul":
            k, n = op.inputs[1].shape.as_list()
            total += 2 * k * n
        elif op.type == "Conv2D":  # filter [kh, kw, in, out], output [?, h, w, out]
            kh, kw, c_in, c_out = op.inputs[1].shape.as_list()
            _, h, w, _ = op.outputs[0].shape.as_list()
            total += 2 * h * w * kh * kw * c_in * c_out
        elif op.type == "Conv2DBackpropInput":  # conv2d_transpose: the conv it reverses
            kh, kw, c_out, c_in = op.inputs[1].shape.as_list()
            _, h, w, _ = op.inputs[2].shape.as_list()
            total += 2 * h * w * kh * kw * c_in * c_out
    return total


def work(impl, model_name, data, steps, batch_size=None, loader="build/load_graph"):
    """One measurement in this process: {images_per_s, score_images_per_s, before, after,
    peak_mb} (training implementations) or {score_images_per_s, peak_mb} (exports)."""
    import tempfile

    bs = batch_size or registry.get(model_name).batch_size
    ds = _Arrays(data)
    with tempfile.TemporaryDirectory() as folder:
        if impl in PROJECT_LOOPS:
            return _project(model_name, ds, folder, steps, bs, *PROJECT_LOOPS[impl])
        if impl == "bare":
            return _bare(model_name, ds, steps, bs)
        return _export(impl, model_name, ds, folder, bs, loader)


def _project(model_name, ds, folder, steps, bs, steps_per_run=1, xla=False):
    from cadl_graph.training import rundir
    from cadl_graph.training.loop import train
    from cadl_graph.training.scoring import evaluate
    from cadl_graph.training.session import TrainConfig

    config = TrainConfig(model=model_name, train_dir=folder, batch_size=bs, pictures=False,
                         save_every_steps=10 ** 9, epochs=10 ** 6, steps_per_run=steps_per_run,
                         xla=xla)
    quiet = lambda *a: None  # noqa: E731
    before = train(dataclasses.replace(config, max_steps=0), ds=ds, out=quiet)
    after = train(dataclasses.replace(config, max_steps=steps), ds=ds, out=quiet)
    with rundir.open_run(folder).restore() as (sess, feeder):
        evaluate(sess, feeder, ds.test)  # warm up
        start = time.perf_counter()
        evaluate(sess, feeder, ds.test)
        score = ds.test.num_examples / (time.perf_counter() - start)
    return dict(images_per_s=after["steady_images_per_s"], score_images_per_s=score,
                before=before["test"], after=after["test"], peak_mb=peers.peak_mb())


def _bare(model_name, ds, steps, bs):
    from cadl_graph.compat import tf
    from cadl_graph.training.scoring import Feeder, evaluate

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        model = registry.build(model_name)
    mean = ds.mean() if registry.get(model_name).subtracts_mean else None
    feeder = Feeder(model, mean)
    with tf.Session(graph=graph) as sess:
        sess.run(model.init_op)
        before = evaluate(sess, feeder, ds.test)
        done, epoch, start = 0, 0, None
        while done < steps:
            for xs, ys in ds.train.next_batch(bs, seed=epoch):
                sess.run(model.train_op, feeder(xs, ys, train=True))
                done += 1
                start = start or time.perf_counter()  # after the first step, as the others
                if done == steps:
                    break
            epoch += 1
        rate = (steps - 1) * bs / (time.perf_counter() - start)
        after = evaluate(sess, feeder, ds.test)
        start = time.perf_counter()
        evaluate(sess, feeder, ds.test)
        score = ds.test.num_examples / (time.perf_counter() - start)
    return dict(images_per_s=rate, score_images_per_s=score, before=before, after=after,
                peak_mb=peers.peak_mb())


def _export(impl, model_name, ds, folder, bs, loader):
    from cadl_graph.data import idx
    from cadl_graph.data.datasets import IMAGE_SIZE
    from cadl_graph.export import freeze, predict

    mean = ds.mean() if registry.get(model_name).subtracts_mean else None
    graph_def, _ = freeze.build_fresh_export(model_name, mean_img=mean)
    images = np.resize(ds.test.images, (EXPORT_IMAGES, ds.test.images.shape[1]))
    if impl == "export_py":  # the same steady state as the C++ loader's: after one batch
        runner = predict.Runner(graph_def)
        runner(images[:bs], batch_size=bs)
        start = time.perf_counter()
        runner(images[bs:], batch_size=bs)
        return dict(score_images_per_s=(len(images) - bs) / (time.perf_counter() - start),
                    peak_mb=peers.peak_mb())
    pb = Path(folder) / "model.pb"
    freeze.write(graph_def, {}, pb)
    images_file = idx.write_idx(Path(folder) / "images", idx.to_pixels(images, IMAGE_SIZE))
    done = subprocess.run([str(loader), f"--graph={pb}", f"--images={images_file}",
                           f"--batch={bs}", "--rows=0"], capture_output=True, text=True,
                          check=True)
    timing = next(line.split() for line in done.stdout.splitlines()
                  if line.startswith("timing "))
    return dict(score_images_per_s=float(timing[-2]), peak_mb=float(timing[8]))


# --- the orchestra: fresh processes, rounds, the report -----------------------------------

WORKER = "cadl_graph.commands.benchmark"  # run as `python -m`: no checkout needed


class BenchmarkError(Error, RuntimeError):
    """One of this project's own measurements failed: a bug to fix, not a row to print."""


def _spawn(impl, model, data, steps, batch_size, torch_python, loader):
    """One measurement in a fresh process; its result dict, or {"error": text}."""
    if impl in PEERS:  # in a process that never imports v1 mode (Keras needs TF2's)
        framework, style = PEER_STYLES[impl]
        request = dict(framework=framework, model=model, style=style, data=str(data),
                       steps=steps, batch_size=batch_size or registry.get(model).batch_size)
        env = {**os.environ, "PYTHONPATH": str(Path(peers.__file__).resolve().parents[2])}
        python = torch_python if framework == "torch" else sys.executable
        command, stdin = [python, "-m", "cadl_graph.bench.peers"], json.dumps(request)
    else:
        command = [sys.executable, "-m", WORKER, f"--worker={impl}", f"--model={model}",
                   f"--data={data}", f"--steps={steps}", f"--loader={loader}"] + \
                  ([f"--batch_size={batch_size}"] if batch_size else [])
        env, stdin = None, None
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env,
                          check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if impl not in PEERS:
            raise BenchmarkError(f"{impl} on {model} failed (exit {done.returncode}): {last}\n"
                                 f"  command: {' '.join(command)}")
        return {"error": last}  # a peer framework that fails here is reported, not fatal
    return json.loads(lines[-1])


def implementations(model, torch_python, loader="build/load_graph"):
    """The implementations measured for `model`, in the order each round runs them (no
    export_cpp without a C++ `loader`)."""
    names = [*PROJECT_LOOPS, "bare"]
    if model in peers.MODELS:
        names += [p for p in PEERS if torch_python or PEER_STYLES[p][0] != "torch"]
    return names + [s for s in SCORERS if loader or s != "export_cpp"]


def measure(out_dir, models=None, rounds=3, quick=False, torch_python=None,
        loader="build/load_graph", out=print):
    """Measures every implementation of every model; writes RESULTS.md and results.json.

    Args:
      loader: the C++ loader binary, or None to leave export_cpp out.

    Returns:
      the results dict (machine, models: {model: {impl: [measurements]}}, scaling).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    models = list(models or registry.NAMES)
    data = prepare_data(out_dir / "data.npz")
    results = dict(machine=machine(), rounds=rounds, quick=quick, models={}, scaling={},
                   torch=torch_python, flops={m: forward_flops(m) for m in models})
    for round_i in range(rounds):
        for model in models:
            steps = 30 if quick else STEPS[model]
            for impl in implementations(model, torch_python, loader):
                result = _spawn(impl, model, data, steps, None, torch_python, loader)
                results["models"].setdefault(model, {}).setdefault(impl, []).append(result)
                out(f"round {round_i + 1}/{rounds} {model} {impl}: "
                    f"{_brief(result)}")
    if not quick:
        for bs in SCALING_BATCHES:
            for impl in ("project", "export_py") + (("export_cpp",) if loader else ()):
                steps = max(20, min(400, 20000 // bs))
                result = _spawn(impl, SCALING_MODEL, data, steps, bs, torch_python, loader)
                results["scaling"].setdefault(impl, {})[bs] = result
                out(f"scaling {SCALING_MODEL} {impl} batch {bs}: {_brief(result)}")
    fileio.atomic_write_bytes(out_dir / "results.json",
                              json.dumps(results, indent=1, default=str).encode())
    plot = _scaling_plot(results, out_dir / "scaling.png") if results["scaling"] else None
    fileio.atomic_write_bytes(out_dir / "RESULTS.md", render(results, plot).encode())
    out("\n".join(["", *summary(results), "", f"Every figure: {out_dir / 'RESULTS.md'}"]))
    return results


def _brief(result):
    if "error" in result:
        return f"failed: {result['error']}"
    return ", ".join(f"{k} {v:.0f}" if isinstance(v, float) and v > 10 else f"{k} {v}"
                     for k, v in result.items())


def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def _cell(stats):
    if stats is None:
        return "-"
    median, low, high = stats
    return f"{median:,.0f} ({low:,.0f}-{high:,.0f})"


def _improved(model, result):
    if "before" not in result or result.get("before") is None:
        return None
    from cadl_graph.training import kinds
    return kinds.of(model).better(result["after"], result["before"])


def render(results, plot=None):
    """RESULTS.md: the machine, then one table per model, then the batch-size scaling."""
    m = results["machine"]
    lines = [
        "# Benchmark: training and scoring images/s",
        "",
        f"Measured on {m['cpu']} ({m['cores']} cores, AVX-512 {'yes' if m['avx512'] else 'no'}),"
        f" Python {m['python']}; float32 matmul {m['matmul_gflops']:.0f} GFLOP/s (numpy, "
        f"2048x2048, best of 5). {results['rounds']} round(s), one fresh process per figure, "
        "implementations interleaved; each cell is the median (min-max). Training % of peak: "
        "3 x forward FLOPs per image x images/s over the matmul rate. PyTorch: "
        f"{'measured with ' + results['torch'] if results['torch'] else 'not installed, skipped'}.",
        "",
    ]
    lines += summary(results) + [""]
    for model, by_impl in results["models"].items():
        flops = results["flops"][model]
        train = _train_rates(by_impl)
        score = {i: _stats([r.get("score_images_per_s") for r in rs])
                 for i, rs in by_impl.items()}
        bare = train.get("bare")
        peer = _best(train, PEERS)
        best_peer = train[peer][0] if peer else None
        lines += [f"## {model} ({flops / 1e6:.2f} MFLOPs forward per image)", "",
                  "| implementation | train images/s | vs bare | vs best peer | % of peak "
                  "| score images/s | peak MB | held-out metric improved |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for impl, rs in by_impl.items():
            t = train[impl]
            ratio = f"{t[0] / bare[0]:.2f}x" if t and bare else "-"
            vs_peer = f"{t[0] / best_peer:.2f}x" if t and best_peer else "-"
            peak = (f"{100 * 3 * flops * t[0] / (m['matmul_gflops'] * 1e9):.1f}%"
                    if t else "-")
            memory = _stats([r.get("peak_mb") for r in rs])
            improved = [_improved(model, r) for r in rs if "error" not in r]
            ok = "-" if not improved or None in improved else (
                "yes" if all(improved) else "NO")
            errors = [r["error"] for r in rs if "error" in r]
            if errors:
                lines.append(f"| {impl} | failed: {errors[0]} | | | | | | |")
                continue
            mb = f"{memory[0]:.0f}" if memory else "-"
            lines.append(f"| {impl} | {_cell(t)} | {ratio} | {vs_peer} | {peak} | "
                         f"{_cell(score[impl])} | {mb} | {ok} |")
        lines.append("")
        if peer:
            lines += [_best_line(train, peer), ""]
    lines += _export_table(results)
    if results["scaling"]:
        lines += [f"## {SCALING_MODEL}: batch size", "",
                  "| batch | " + " | ".join(f"{i} images/s (peak MB)" for i in results["scaling"])
                  + " |", "| --- |" + " --- |" * len(results["scaling"])]
        for bs in SCALING_BATCHES:
            cells = []
            for impl, by_bs in results["scaling"].items():
                r = by_bs.get(bs, {})
                rate = r.get("images_per_s") or r.get("score_images_per_s")
                cells.append("-" if rate is None else f"{rate:,.0f} ({r['peak_mb']:.0f})")
            lines.append(f"| {bs} | " + " | ".join(cells) + " |")
        lines += ["", "project = training with this project's loop; export_py / export_cpp = "
                      "scoring the frozen export from Python / C++.", ""]
        if plot:
            lines += [f"![images/s against batch size]({Path(plot).name})", ""]
    return "\n".join(lines)


def _train_rates(by_impl):
    """{implementation: (median, min, max) training images/s, or None} of one model."""
    return {i: _stats([r.get("images_per_s") for r in rs]) for i, rs in by_impl.items()}


def _best(train, among):
    """The implementation of `among` with the highest median in `train`, or None."""
    rates = {i: train[i][0] for i in among if train.get(i)}
    return max(rates, key=rates.get) if rates else None


def _best_line(train, peer):
    """The fastest peer `peer`, and the project's best loop against it."""
    said = f"Best peer: {peer} ({train[peer][0]:,.0f} images/s)."
    best = _best(train, PROJECT_LOOPS)
    if best is None:
        return said
    return (f"{said} The project's best: {best} ({_settings(best)}), "
            f"{train[best][0] / train[peer][0]:.2f}x the best peer (medians).")


def summary(results):
    """The markdown table of the project against the bare loop and the tuned peers, a row a
    model: the course's loop (K = 1) over the bare loop, and the fastest of the project's
    loops (`PROJECT_LOOPS`) over the fastest peer, all medians of training images/s."""
    lines = ["## The project against the bare loop and the tuned peers", "",
             "| model | project (K=1) / bare | best peer | the project's best | "
             "best project / best peer |", "| --- | --- | --- | --- | --- |"]
    for model, by_impl in results["models"].items():
        train = _train_rates(by_impl)
        ours, bare = train.get("project"), train.get("bare")
        peer, best = _best(train, PEERS), _best(train, PROJECT_LOOPS)
        over_bare = f"{ours[0] / bare[0]:.2f}x" if ours and bare else "-"
        peer_cell = f"{peer} {train[peer][0]:,.0f}" if peer else "-"
        best_cell = f"{best} ({_settings(best)}) {train[best][0]:,.0f}" if best else "-"
        ratio = f"**{train[best][0] / train[peer][0]:.2f}x**" if peer and best else "-"
        lines.append(f"| {model} | {over_bare} | {peer_cell} | {best_cell} | {ratio} |")
    return lines


def _settings(impl):
    steps_per_run, xla = PROJECT_LOOPS[impl]
    return f"steps_per_run={steps_per_run}" + (", xla" if xla else "")


def _export_table(results):
    """Scoring the frozen export, C++ beside Python, model by model: the ratio is the median
    of each round's C++ / Python (the two ran one after the other in that round)."""
    rows = []
    for model, by_impl in results["models"].items():
        py, cpp = by_impl.get("export_py", []), by_impl.get("export_cpp", [])
        pairs = [c["score_images_per_s"] / p["score_images_per_s"] for p, c in zip(py, cpp)
                 if "error" not in p and "error" not in c]
        if pairs:
            score = [_stats([r.get("score_images_per_s") for r in rs]) for rs in (py, cpp)]
            rows.append(f"| {model} | {_cell(score[0])} | {_cell(score[1])} | "
                        f"{statistics.median(pairs):.2f}x ({min(pairs):.2f}-{max(pairs):.2f}) |")
    if not rows:
        return []
    return ["## Exports: the C++ loader beside Python", "",
            "| model | export_py images/s | export_cpp images/s | C++ / Python, paired by round |",
            "| --- | --- | --- | --- |", *rows, ""]


def _scaling_plot(results, path):
    series = {impl: [None if "error" in by_bs.get(bs, {"error": 1}) else
                     by_bs[bs].get("images_per_s") or by_bs[bs].get("score_images_per_s")
                     for bs in SCALING_BATCHES]
              for impl, by_bs in results["scaling"].items()}
    return figures.save_curves(
        series, path, f"{SCALING_MODEL}: training (project) and scoring (exports)",
        "images/s", x=list(SCALING_BATCHES), xlabel="batch size", log=True)
