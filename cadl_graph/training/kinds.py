"""Kinds of model: what each epoch reports, which way the score improves, what is drawn.

The registry names a kind for every model (`Spec.kind`); training, the report, seed sweeps
and the benchmark ask the kind object instead of testing model names or op names (what a
model is fed is the registry's: `Spec.subtracts_mean`):

  autoencoder  the lecture's tied autoencoders: each epoch reports the cost of its last
               batch (what the lecture printed); draws reconstructions
  classifier   the lecture's classifiers: reports accuracy on the valid split; draws the
               weights the model names (`Model.weights`: a layer's columns, or kernels)
  vae          the course's variational autoencoders: mean train and valid cost; draws
               reconstructions, the decoded latent manifold and the test codes by digit
  denoising    the course's denoising autoencoder: as vae, but draws corrupted inputs beside
               their reconstructions instead of a latent space
"""

from pathlib import Path

import numpy as np

from cadl_graph.graphs import registry
from cadl_graph.training.scoring import chunks, evaluate
from cadl_graph.viz import figures, images

EXAMPLES = 100  # reconstructions drawn each epoch (the lecture's ds.X[:100])


def fmt(value, digits=6):
    """A figure as the reports print it ("n/a" for None)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


class Kind:
    """What every kind shares; subclasses set the class attributes and override the hooks.

    Attributes:
      name: the registry's key.
      reconstructs: draw the same test images reconstructed after every epoch (a GIF).
      metric: the epoch record's key for what the lecture printed.
      metric_name: how to say it.
      averages_costs: the epoch record needs every step's training cost.
      test_metric: the result's key for the held-out score: "test_accuracy" (higher is
        better) or "test_cost" (lower is better).
    """

    name = ""
    reconstructs = True
    averages_costs = False
    metric = ""
    metric_name = ""
    test_metric = "test_cost"

    def epoch_record(self, sess, feeder, ds, last_xs, costs):
        """The scores after an epoch, from a scoring session: {key: float or None}."""
        raise NotImplementedError

    def better(self, new, old):
        """Whether held-out score `new` is better than `old`."""
        return new > old if self.test_metric == "test_accuracy" else new < old

    def epoch_value(self, record):
        """The record's figure that the lecture printed (None when not scored)."""
        return record.get(self.metric)

    def epoch_line(self, record):
        """The line printed after an epoch."""
        return (f"epoch {record['epoch']} (step {record['step']}): {self._scores(record)}, "
                f"{record['images_per_s']:.0f} images/s")

    def report_cell(self, record):
        """The report table's cell for this epoch."""
        return fmt(self.epoch_value(record), 6)

    def curves(self, history):
        """{label: per-epoch values} of our figures, for a training-curve plot."""
        return {f"ours: {self.metric_name}": [self.epoch_value(r) for r in history]}

    def _scores(self, record):
        return f"{self.metric_name} {fmt(self.epoch_value(record), 6)}"

    @staticmethod
    def examples(ds):
        """The images drawn each epoch: the first of the test split (or of all data)."""
        return ds.test.images[:EXAMPLES] if ds.test.num_examples else ds.X[:EXAMPLES]

    def draw(self, sess, feeder, ds, out_dir):
        """The model's own pictures of the trained model, besides reconstructions: {name: path}.
        """
        del sess, feeder, ds, out_dir
        return {}


class TiedAutoencoder(Kind):
    name = "autoencoder"
    metric = "last_batch_cost"
    metric_name = "last-batch cost"

    def epoch_record(self, sess, feeder, ds, last_xs, costs):
        return dict(last_batch_cost=float(sess.run(feeder.model.cost, feeder(last_xs))))

    def _scores(self, record):
        return f"cost {fmt(record['last_batch_cost'], 6)} (last batch)"


class Classifier(Kind):
    name = "classifier"
    reconstructs = False
    test_metric = "test_accuracy"
    metric = "valid_accuracy"
    metric_name = "valid accuracy"

    def epoch_record(self, sess, feeder, ds, last_xs, costs):
        return dict(valid_accuracy=evaluate(sess, feeder, ds.valid))

    def draw(self, sess, feeder, ds, out_dir):
        """Each of `Model.weights`: a [784, n] matrix as n images (the lecture's In[51]), a
        [h, w, in, out] kernel bank as a montage (In[67]-[68])."""
        model, paths = feeder.model, {}
        for name, value in zip(model.weights, sess.run(list(model.weights.values()))):
            path = Path(out_dir) / f"{name}.png"
            if value.ndim == 2:
                paths[name] = figures.save_linear_weights(value, path)
            else:
                paths[name] = figures.save_filters(value, path)
        return paths


class VariationalAutoencoder(Kind):
    name = "vae"
    averages_costs = True
    metric = "valid_cost"
    metric_name = "valid cost"

    def epoch_record(self, sess, feeder, ds, last_xs, costs):
        return dict(train_cost=float(np.mean(costs)), valid_cost=evaluate(sess, feeder, ds.valid))

    def _scores(self, record):
        return (f"train cost {fmt(record['train_cost'], 4)}, "
                f"valid cost {fmt(record['valid_cost'], 4)}")

    def report_cell(self, record):
        return f"train {fmt(record['train_cost'], 2)} / valid {fmt(record['valid_cost'], 2)}"

    def curves(self, history):
        return {"ours: train cost": [r["train_cost"] for r in history],
                "ours: valid cost": [r["valid_cost"] for r in history]}

    def draw(self, sess, feeder, ds, out_dir):
        """The decoded latent manifold and (for a 2-D code) the test codes by digit."""
        model, out_dir = feeder.model, Path(out_dir)
        n_code = model.z.shape.as_list()[1]
        manifold = sess.run(model.y, {model.z: figures.latent_grid(n_code), **model.eval_feed})
        paths = {"manifold": images.save_png(out_dir / "manifold.png",
                                             figures.reconstruction_montage(manifold),
                                             vmin=0.0, vmax=1.0, scale=2)}
        if n_code == 2 and ds.test.num_examples:
            z = np.concatenate([sess.run(model.end_points["z_mu"], feeder(xs))
                                for xs, _ in chunks(ds.test)])
            paths["latent_scatter"] = figures.save_scatter(
                z, ds.test.labels.argmax(axis=1), out_dir / "latent_scatter.png",
                title=f"{model.name}: z mean of {len(z)} test images")
        return paths


class DenoisingAutoencoder(VariationalAutoencoder):
    name = "denoising"

    def draw(self, sess, feeder, ds, out_dir):
        """Fully corrupted test inputs beside their reconstructions."""
        model = feeder.model
        xs = ds.test.images[:50] if ds.test.num_examples else ds.X[:50]
        corrupted, recon = sess.run(
            [model.end_points["x_"], model.y],
            feeder(xs, extra={model.placeholders["corrupt_prob"]: [1.0]}))
        return {"denoising": figures.save_side_by_side(corrupted, recon,
                                                       Path(out_dir) / "denoising.png")}


KINDS = {kind.name: kind for kind in (TiedAutoencoder(), Classifier(), VariationalAutoencoder(),
                                      DenoisingAutoencoder())}


def of(model_name):
    """The Kind of registry model `model_name`."""
    return KINDS[registry.get(model_name).kind]
