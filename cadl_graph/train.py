"""Training loops for every registry model, with resumable checkpoints.

    from cadl_graph.train import TrainConfig, train
    result = train(TrainConfig(model="conv_autoencoder", train_dir="runs/train/cae"))

What is fed follows the lecture: the autoencoders see `batch - mean_img` (the mean over all of
`ds.X`), the classifiers images and one-hot labels, the VAE family raw images plus its
auxiliary placeholders. After each epoch one line reports what the lecture printed
(autoencoders: the cost on the epoch's last batch; classifiers: accuracy on the whole valid
split; VAEs: the mean train and valid cost) and the speed; at the end the held-out test split
is scored. Scores and pictures come from an inference copy of the graph (`scoring.Scorer`), so
the training session only ever runs training steps: the course's batch norm would otherwise
move its averages while being scored.

A global step, a Saver and TensorBoard writing are added to the graph only AFTER the registry
builder has run, so the model's own ops are exactly those its golden pins. Checkpoints are
saved every `save_every_steps` and at the end; a rerun with the same `train_dir` restores the
latest one and finishes the remaining steps, replaying each epoch's batch order from the seed.
"""

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Optional

import numpy as np

from cadl_graph import checkpoints, figures, fileio, images, registry
from cadl_graph.compat import tf
from cadl_graph.datasets import MNIST
from cadl_graph.scoring import Feeder, Scorer, chunks, evaluate

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "model.ckpt"
RUN_FILE = "run.json"
HISTORY_FILE = "history.json"   # one record per finished epoch, kept across resumes
MEAN_FILE = "input_mean.npy"    # autoencoders: the mean image subtracted from every input
N_EXAMPLES = 100          # reconstructions drawn each epoch (the lecture's ds.X[:100])
PROGRESS_EVERY_S = 30.0   # long epochs log a progress line this often
SUMMARY_EVERY_STEPS = 50  # TensorBoard train-cost points


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run. None means the registry's (the lecture's) value.

    Attributes:
      model: registry name.
      epochs, batch_size, learning_rate: the recipe; defaults from the registry.
      seed: seeds the data shuffle, the epoch orders and TensorFlow's initialisers.
      train_dir: checkpoints, run.json and pictures go here; reused to resume.
      data_dir: MNIST directory to try before the cache.
      max_steps: stop once the global step reaches this (short runs); None = all epochs.
      save_every_steps: checkpoint period in steps (and always at the end).
      logdir: TensorBoard event folder, or None for none.
      pictures: draw reconstructions, weights, manifolds.
      keep_checkpoints: how many recent checkpoints the Saver keeps.
      hparams: other registry hyperparameters to override, e.g. {"init_stddev": 0.1}.
    """

    model: str
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    seed: int = 0
    train_dir: str = "runs/train"
    data_dir: Optional[str] = None
    max_steps: Optional[int] = None
    save_every_steps: int = 1000
    logdir: Optional[str] = None
    pictures: bool = True
    keep_checkpoints: int = 5
    hparams: Optional[dict] = None

    def resolved(self):
        """A copy with every None recipe field filled in from the registry."""
        spec = registry.get(self.model)
        return dataclasses.replace(
            self,
            epochs=spec.training["epochs"] if self.epochs is None else self.epochs,
            batch_size=spec.training["batch_size"] if self.batch_size is None
            else self.batch_size,
            learning_rate=spec.hparams["learning_rate"] if self.learning_rate is None
            else self.learning_rate)


class TrainError(RuntimeError):
    """A training run cannot start or continue (bad train_dir, mismatched checkpoint)."""


def load_dataset(model, seed=0, data_dir=None):
    """The MNIST Dataset a registry model trains on (its split, one-hot labels)."""
    return MNIST(one_hot=True, split=registry.get(model).training["split"], seed=seed,
                 data_dir=data_dir)


def _epoch_seed(seed, epoch):
    return [seed, epoch, 0x5EED]


def read_run(train_dir):
    """The run.json that train() wrote in `train_dir` (model, hparams, seed, ...), or None."""
    path = Path(train_dir) / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def score_checkpoint(checkpoint, split):
    """Scores a saved run afresh: its checkpoint restored into a new inference graph.

    Args:
      checkpoint: a prefix, or a train folder (its latest checkpoint), with the run.json that
        train() wrote beside it.
      split: the DatasetSplit to score (e.g. `ds.test`).

    Returns:
      (prefix, accuracy or mean cost). The same checkpoint scores the same number every time,
      and scoring changes no file.

    Raises:
      checkpoints.CheckpointError: no checkpoint there, or it does not fit its run.json.
      TrainError: no run.json beside it.
    """
    prefix = checkpoints.resolve(checkpoint)
    run = read_run(Path(prefix).parent)
    if run is None:
        raise TrainError(f"no {RUN_FILE} beside {prefix} says which model it holds")
    scorer = Scorer(run["model"], run["hparams"], seed=run["seed"])
    mean_path = Path(prefix).parent / MEAN_FILE
    mean_img = np.load(mean_path) if registry.get(run["model"]).kind == "autoencoder" else None
    with scorer.from_checkpoint(prefix) as sess:
        return prefix, evaluate(sess, scorer.feeder(mean_img), split)


def _check_run_file(train_dir, run):
    saved = read_run(train_dir)
    if saved is not None:
        keys = ("model", "hparams", "batch_size", "seed")
        differs = [f"{k}: saved {saved.get(k)!r}, now {run[k]!r}" for k in keys
                   if saved.get(k) != run[k]]
        if differs:
            raise TrainError(
                f"{train_dir} holds a run that differs from this one, so its checkpoints "
                "cannot be resumed:\n  " + "\n  ".join(differs) +
                "\nUse another --train_dir, or the same flags as the saved run.")
    fileio.atomic_write_bytes(Path(train_dir) / RUN_FILE,
                              json.dumps(run, indent=2, sort_keys=True).encode())


class _Reporter:
    """Progress log lines and TensorBoard scalars (no-ops without a writer)."""

    def __init__(self, writer):
        self.writer = writer
        self.last_progress = time.monotonic()

    def scalar(self, tag, value, step):
        if self.writer is not None and value is not None:
            self.writer.add_summary(
                tf.Summary(value=[tf.Summary.Value(tag=tag, simple_value=float(value))]), step)

    def progress(self, step, total, images, seconds):
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            rate = images / max(seconds, 1e-9)
            log.info("step %d/%d, %.0f images/s", step, total, rate)


def train(config, ds=None, out=print):
    """Trains `config.model`, resuming from `config.train_dir` when it holds a checkpoint.

    Args:
      config: a TrainConfig.
      ds: the Dataset to use (default: `load_dataset(config.model, config.seed, ...)`).
      out: where the per-epoch lines go (print by default).

    Returns:
      dict: model, hparams, steps (final global step), epochs (per-epoch records), test (accuracy or
      mean cost on the test split), test_metric, images_per_s, checkpoint (final prefix),
      pictures ({name: path}), seconds.

    Raises:
      TrainError, checkpoints.CheckpointError: the train_dir belongs to another run.
      ValueError: bad configuration values.
    """
    config = config.resolved()
    if config.epochs < 0 or config.batch_size < 1 or config.save_every_steps < 1:
        raise ValueError(f"epochs >= 0, batch_size >= 1 and save_every_steps >= 1 required, "
                         f"got {config.epochs}, {config.batch_size}, {config.save_every_steps}")
    started = time.monotonic()
    spec = registry.get(config.model)
    ds = ds if ds is not None else load_dataset(config.model, config.seed, config.data_dir)
    train_dir = Path(config.train_dir)
    train_dir.mkdir(parents=True, exist_ok=True)
    hparams = registry.hparams(config.model, **{**(config.hparams or {}),
                                                 "learning_rate": config.learning_rate})
    _check_run_file(train_dir, dict(model=config.model, hparams=hparams,
                                    batch_size=config.batch_size, seed=config.seed,
                                    epochs=config.epochs, split=list(ds.split)))

    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(config.seed)
        model = registry.build(config.model, **hparams)
        # Everything below is training machinery, created after the model's own ops.
        global_step = tf.train.get_or_create_global_step()
        increment = tf.assign_add(global_step, 1, name="increment_global_step")
        saver = tf.train.Saver(max_to_keep=config.keep_checkpoints)
        init_step = tf.variables_initializer([global_step])
        variables = graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
    graph.finalize()  # a loop that adds ops by mistake would leak memory; fail loudly instead
    scorer = Scorer(config.model, hparams, seed=config.seed)

    mean_img = ds.mean() if spec.kind == "autoencoder" else None
    feeder, scoring_feeder = Feeder(model, mean_img), scorer.feeder(mean_img)
    if mean_img is not None:  # an export needs the mean the model was trained around
        with fileio.atomic_path(train_dir / MEAN_FILE) as tmp:
            np.save(tmp, mean_img.astype(np.float32))
    steps_per_epoch = math.ceil(ds.train.num_examples / config.batch_size)
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    examples = ds.test.images[:N_EXAMPLES] if ds.test.num_examples else ds.X[:N_EXAMPLES]
    writer = tf.summary.FileWriter(config.logdir, graph) if config.logdir else None
    report = _Reporter(writer)
    history_path = train_dir / HISTORY_FILE
    frames_dir = train_dir / "pictures" / "epochs"

    with tf.Session(graph=graph) as sess:
        prefix = tf.train.latest_checkpoint(str(train_dir))
        if prefix:
            checkpoints.restore(sess, saver, prefix, variables)
        else:
            sess.run([model.init_op, init_step])
        step = int(sess.run(global_step))
        # Epochs finished after the restored checkpoint are trained again, so their records go.
        history = [r for r in _load_history(history_path) if r["step"] <= step] if prefix else []
        if prefix:
            out(f"resuming {config.model} from {prefix} at step {step}/{total}")

        def save():
            return saver.save(sess, str(train_dir / CHECKPOINT_NAME), global_step=step,
                              write_meta_graph=False)

        images_seen, train_seconds = 0, 0.0
        for epoch in range(step // steps_per_epoch, math.ceil(total / steps_per_epoch)):
            skip = step - epoch * steps_per_epoch
            epoch_start, epoch_images, epoch_costs = time.monotonic(), 0, []
            xs = ys = None
            batches = ds.train.next_batch(config.batch_size, seed=_epoch_seed(config.seed, epoch))
            for i, (xs, ys) in enumerate(batches):
                if i < skip:
                    continue
                if step >= total:
                    break
                _, step, cost = sess.run([model.train_op, increment, model.cost],
                                         feeder(xs, ys, train=True))
                step, cost = int(step), float(cost)
                epoch_images += len(xs)
                epoch_costs.append(cost)
                if step % SUMMARY_EVERY_STEPS == 0:
                    report.scalar("train/cost", cost, step)
                if step % config.save_every_steps == 0:
                    save()
                report.progress(step, total, epoch_images, time.monotonic() - epoch_start)
            seconds = time.monotonic() - epoch_start
            images_seen, train_seconds = images_seen + epoch_images, train_seconds + seconds
            if step < (epoch + 1) * steps_per_epoch or not epoch_costs:
                break  # max_steps stopped us mid-epoch: no epoch line
            with scorer.from_session(sess, variables) as scoring:
                record = _epoch_record(scoring, spec.kind, scoring_feeder, ds, xs, epoch_costs)
                if config.pictures and spec.kind != "classifier":
                    images.save_png(frames_dir / f"reconstruction_{epoch:03d}.png",
                                    figures.reconstruction_montage(
                                        scoring.run(scorer.model.y, scoring_feeder(examples)),
                                        mean_img),
                                    vmin=0.0, vmax=1.0)
            record.update(epoch=epoch, step=step, images_per_s=epoch_images / seconds)
            history.append(record)
            fileio.atomic_write_bytes(history_path, json.dumps(history, indent=1).encode())
            out(_epoch_line(spec.kind, record))
            for key in ("last_batch_cost", "valid_accuracy", "train_cost", "valid_cost"):
                report.scalar(f"epoch/{key}", record.get(key), step)
        final = save()
        with scorer.from_session(sess, variables) as scoring:
            test = evaluate(scoring, scoring_feeder, ds.test)
            pictures = {}
            if config.pictures:
                frame_paths = [frames_dir / f"reconstruction_{r['epoch']:03d}.png"
                               for r in history]
                frames = [images.load_gray(p) for p in frame_paths if p.is_file()]
                pictures = draw(scoring, scorer.model, config.model, scoring_feeder, ds, frames,
                                train_dir / "pictures")
    if writer is not None:
        writer.close()
    test_metric = "test_accuracy" if model.accuracy is not None else "test_cost"
    if test is not None:
        out(f"{config.model}: {test_metric.replace('_', ' ')} {test:.6f} on "
            f"{ds.test.num_examples} held-out images")
    return dict(model=config.model, hparams=hparams, steps=step, total_steps=total,
                epochs=history, test=test, test_metric=test_metric, checkpoint=final,
                pictures=pictures,
                images_per_s=images_seen / train_seconds if train_seconds else None,
                seconds=time.monotonic() - started)


def _load_history(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return []
    except ValueError as e:
        raise TrainError(f"{path} is not valid JSON ({e}); delete it to start the history "
                         "afresh") from None


def _epoch_record(sess, kind, feeder, ds, last_xs, costs):
    if kind == "autoencoder":
        return dict(last_batch_cost=float(sess.run(feeder.model.cost, feeder(last_xs))))
    if kind == "classifier":
        return dict(valid_accuracy=evaluate(sess, feeder, ds.valid))
    return dict(train_cost=float(np.mean(costs)), valid_cost=evaluate(sess, feeder, ds.valid))


def _epoch_line(kind, record):
    head = f"epoch {record['epoch']} (step {record['step']}):"
    speed = f"{record['images_per_s']:.0f} images/s"
    if kind == "autoencoder":
        return f"{head} cost {record['last_batch_cost']:.6f} (last batch), {speed}"
    if kind == "classifier":
        return f"{head} valid accuracy {record['valid_accuracy']:.6f}, {speed}"
    valid = record["valid_cost"]
    valid = "n/a" if valid is None else f"{valid:.4f}"
    return f"{head} train cost {record['train_cost']:.4f}, valid cost {valid}, {speed}"


def draw(sess, model, name, feeder, ds, frames, out_dir):
    """The lecture's pictures of a trained model; returns {name: path}."""
    out_dir = Path(out_dir)
    graph = model.graph
    paths = {}
    if frames:
        paths["reconstruction"], paths["reconstruction_gif"] = figures.save_reconstructions(
            frames, out_dir, "reconstruction")
    ops = {op.name for op in graph.get_operations()}
    if "layer1/W" in ops:  # fetched by name, as the lecture's In[49] does
        W = sess.run(graph.get_tensor_by_name("layer1/W:0"))
        paths["weights"] = figures.save_linear_weights(W, out_dir / "layer1_W.png")
    if name == "conv_classifier":
        W_1, W_2 = sess.run([model.end_points["W_1"], model.end_points["W_2"]])
        paths["filters_1"] = figures.save_filters(W_1, out_dir / "W_1.png")
        paths["filters_2"] = figures.save_filters(W_2, out_dir / "W_2.png", scale=2)
    if "z_mu" in model.end_points:
        n_code = model.z.shape.as_list()[1]
        zs = figures.latent_grid(n_code)
        manifold = sess.run(model.y, {model.z: zs, **model.eval_feed})
        paths["manifold"] = images.save_png(out_dir / "manifold.png",
                                            figures.reconstruction_montage(manifold),
                                            vmin=0.0, vmax=1.0, scale=2)
        if n_code == 2 and ds.test.num_examples:
            z = np.concatenate([sess.run(model.end_points["z_mu"], feeder(xs))
                                for xs, _ in chunks(ds.test)])
            paths["latent_scatter"] = figures.save_scatter(
                z, ds.test.labels.argmax(axis=1), out_dir / "latent_scatter.png",
                title=f"{name}: z mean of {len(z)} test images")
    if "x_" in model.end_points and model.hparams.get("denoising"):
        corrupt_prob = model.end_points["corrupt_prob"]
        xs = ds.test.images[:50] if ds.test.num_examples else ds.X[:50]
        corrupted, recon = sess.run([model.end_points["x_"], model.y],
                                    feeder(xs, extra={corrupt_prob: [1.0]}))
        paths["denoising"] = figures.save_side_by_side(corrupted, recon,
                                                       out_dir / "denoising.png")
    return paths


def train_seeds(model, seeds, out_dir, epochs=None, data_dir=None, hparams=None, out=print):
    """Trains `model` once per seed in `<out_dir>/seed<N>`; prints and returns the spread.

    Returns:
      dict: results (one train() result per seed), values (the held-out metric per seed),
      min, median, max.
    """
    results = []
    for seed in seeds:
        out(f"== {model}, seed {seed} ==")
        results.append(train(TrainConfig(model=model, seed=seed, epochs=epochs,
                                          train_dir=str(Path(out_dir) / f"seed{seed}"),
                                          data_dir=data_dir, pictures=False, hparams=hparams),
                             out=out))
    values = [r["test"] for r in results]
    metric = results[0]["test_metric"].replace("_", " ")
    out(f"\n{model} {metric} over seeds {', '.join(map(str, seeds))}:")
    for seed, r in zip(seeds, results):
        epochs = [e.get("valid_accuracy", e.get("last_batch_cost", e.get("valid_cost")))
                  for e in r["epochs"]]
        trace = ", ".join("n/a" if v is None else f"{v:.4f}" for v in epochs)
        out(f"  seed {seed}: {r['test']:.4f} (per epoch: {trace})")
    summary = dict(min=min(values), median=float(np.median(values)), max=max(values))
    out(f"  min {summary['min']:.4f}, median {summary['median']:.4f}, max {summary['max']:.4f}")
    return dict(results=results, values=values, **summary)
