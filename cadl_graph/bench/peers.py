"""The lecture's four models written the way Keras 3 and PyTorch users write them: the peers
the benchmark measures this project's graphs against.

Same architectures, initial scales, losses and optimizers as the registry graphs:

  linear_classifier  softmax(x W + b); batch-sum cross entropy with 1e-12; Adam(0.001)
  conv_classifier    two 5x5 stride-2 SAME convs (32, 64; kernels normal(1.0)), relu, dense
                     128 relu, dense 10 softmax; the same cross entropy; Adam(0.001)
  fc_autoencoder     tied weights 784-512-256-128-64 (normal(0.02), no biases), relu on every
                     layer, decoder through the transposed encoder weights; mean of per-image
                     mean squared error; Adam(0.001)
  conv_autoencoder   three 4x4 stride-2 SAME convs of 16 (normal(0.02)), relu, decoded by
                     conv_transpose through the same kernels; the same cost; Adam(0.001)

Nothing here imports TensorFlow's v1 mode or the graph layers at module level: each runner
imports its framework, so this file also runs under another interpreter that has only numpy
and torch (`python -m cadl_graph.bench.peers` reads a JSON request on stdin). Inputs come as
arrays: images float32 [N, 784] (already mean-subtracted for the autoencoders) and one-hot
labels float32 [N, 10].
"""

import json
import resource
import sys
import time

import numpy as np

# The image size and class count, from the one place the package names them (the data layer,
# which needs only numpy and the standard library, so it imports under any interpreter).
from cadl_graph.data.datasets import IMAGE_SIZE, N_CLASSES, N_FEATURES

MODELS = ("linear_classifier", "conv_classifier", "fc_autoencoder", "conv_autoencoder")
CLASSIFIERS = ("linear_classifier", "conv_classifier")
EPSILON = 1e-12


def _batches(n, batch_size, steps, seed=0):
    """`steps` index arrays of `batch_size`, walking fresh permutations epoch by epoch."""
    rng, out = np.random.default_rng(seed), []
    while len(out) < steps:
        order = rng.permutation(n)
        out += [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
    return out[:steps]


def peak_mb():
    """This process's peak resident memory in MB (VmHWM: unlike ru_maxrss, not inherited
    from the parent that started the process)."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return float(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- Keras 3 ------------------------------------------------------------------------------

def _keras_model(name):
    import keras
    import tensorflow as tf

    normal = keras.initializers.RandomNormal
    if name == "linear_classifier":
        return keras.Sequential([keras.Input((N_FEATURES,)),
                                 keras.layers.Dense(N_CLASSES, "softmax")])
    if name == "conv_classifier":
        return keras.Sequential([
            keras.Input((N_FEATURES,)), keras.layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1)),
            keras.layers.Conv2D(32, 5, 2, "same", activation="relu",
                                kernel_initializer=normal(stddev=1.0)),
            keras.layers.Conv2D(64, 5, 2, "same", activation="relu",
                                kernel_initializer=normal(stddev=1.0)),
            keras.layers.Flatten(), keras.layers.Dense(128, "relu"),
            keras.layers.Dense(N_CLASSES, "softmax")])

    class Tied(keras.Model):
        """A tied autoencoder: the decoder reuses the encoder's kernels."""

        def __init__(self, convolutional):
            super().__init__()
            self.convolutional = convolutional
            if convolutional:
                shapes = [(4, 4, 1, 16), (4, 4, 16, 16), (4, 4, 16, 16)]
            else:
                sizes = [N_FEATURES, 512, 256, 128, 64]
                shapes = list(zip(sizes[:-1], sizes[1:]))
            self.ws = [self.add_weight(shape=s, initializer=normal(stddev=0.02))
                       for s in shapes]

        def call(self, x):
            if not self.convolutional:
                for w in self.ws:
                    x = tf.nn.relu(tf.matmul(x, w))
                for w in self.ws[::-1]:
                    x = tf.nn.relu(tf.matmul(x, tf.transpose(w)))
                return x
            h, shapes = tf.reshape(x, [-1, IMAGE_SIZE, IMAGE_SIZE, 1]), []
            for w in self.ws:
                shapes.append(tf.shape(h))
                h = tf.nn.relu(tf.nn.conv2d(h, w, 2, "SAME"))
            for w, shape in zip(self.ws[::-1], shapes[::-1]):
                h = tf.nn.relu(tf.nn.conv2d_transpose(h, w, shape, 2, "SAME"))
            return tf.reshape(h, [-1, N_FEATURES])

    return Tied(convolutional=name == "conv_autoencoder")


def _keras_loss(name):
    import keras

    if name in CLASSIFIERS:
        return lambda y, p: -keras.ops.sum(y * keras.ops.log(p + EPSILON))
    return lambda y, p: keras.ops.mean(keras.ops.mean(keras.ops.square(y - p), axis=1))


def run_keras(request):
    """Trains with `fit` (request["style"] "fit"; "fit_k10" with steps_per_execution=10) or a
    custom `tf.function` step ("step"; "xla" compiled by XLA, jit_compile=True)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    name, bs, steps = request["model"], request["batch_size"], request["steps"]
    x, y, tx, ty = _arrays(request)
    target, test_target = (y, ty) if name in CLASSIFIERS else (x, tx)
    model, loss = _keras_model(name), _keras_loss(name)
    optimizer = keras.optimizers.Adam(0.001)
    quality = _keras_quality(model, name, tx, test_target)
    before = quality()
    idx = np.concatenate(_batches(len(x), bs, steps))
    xs, ts = x[idx], target[idx]
    style = request["style"]
    if style in ("fit", "fit_k10"):
        # steps_per_execution: Keras runs that many steps per call of its compiled function.
        per_call = 10 if style == "fit_k10" else 1
        model.compile(optimizer=optimizer, loss=loss, steps_per_execution=per_call)
        warm = bs * 2 * per_call
        model.fit(xs[:warm], ts[:warm], batch_size=bs, epochs=1, shuffle=False, verbose=0)
        start = time.perf_counter()
        model.fit(xs, ts, batch_size=bs, epochs=1, shuffle=False, verbose=0)
    else:
        @tf.function(jit_compile=style == "xla")
        def train_step(xb, tb):
            with tf.GradientTape() as tape:
                value = loss(tb, model(xb, training=True))
            optimizer.apply(tape.gradient(value, model.trainable_variables),
                            model.trainable_variables)
            return value
        train_step(xs[:bs], ts[:bs])
        start = time.perf_counter()
        for i in range(0, len(xs), bs):
            train_step(xs[i:i + bs], ts[i:i + bs])
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    quality_after = quality()
    score_seconds = time.perf_counter() - start
    return dict(images_per_s=len(xs) / seconds, before=before, after=quality_after,
                score_images_per_s=len(tx) / score_seconds, peak_mb=peak_mb())


def _keras_quality(model, name, tx, target):
    def quality():
        p = model.predict(tx, batch_size=1000, verbose=0)
        if name in CLASSIFIERS:
            return float(np.mean(p.argmax(1) == target.argmax(1)))
        return float(np.mean(np.mean((p - target) ** 2, axis=1)))
    return quality


def _arrays(request):
    """(x, y, test_x, test_y) of the request's data file; autoencoders get x - mean."""
    data = np.load(request["data"])
    x, tx = data["x"], data["test_x"]
    if request["model"] not in CLASSIFIERS:
        x, tx = x - data["mean"], tx - data["mean"]
    return x, data["y"], tx, data["test_y"]


# --- PyTorch ------------------------------------------------------------------------------

def _torch_model(name):
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    class Tied(nn.Module):
        def __init__(self, convolutional):
            super().__init__()
            self.convolutional = convolutional
            # torch's conv weight is [out, in, h, w]; its conv_transpose reads the same
            # tensor as [in, out, h, w], which is exactly the tied decoder.
            shapes = ([(16, 1, 4, 4), (16, 16, 4, 4), (16, 16, 4, 4)] if convolutional
                      else [(N_FEATURES, 512), (512, 256), (256, 128), (128, 64)])
            self.ws = nn.ParameterList(
                [nn.Parameter(torch.randn(*s) * 0.02) for s in shapes])

        def forward(self, x):
            if not self.convolutional:
                for w in self.ws:
                    x = F.relu(x @ w)
                for w in list(self.ws)[::-1]:
                    x = F.relu(x @ w.t())
                return x
            h, sizes = x.view(-1, 1, IMAGE_SIZE, IMAGE_SIZE), []
            for w in self.ws:  # TensorFlow's SAME for stride 2: pad the end more
                sizes.append(h.shape[-1])
                pad = max((-(-h.shape[-1] // 2) - 1) * 2 + 4 - h.shape[-1], 0)
                h = F.relu(F.conv2d(F.pad(h, (pad // 2, pad - pad // 2) * 2), w, stride=2))
            for w, size in zip(list(self.ws)[::-1], sizes[::-1]):
                full = F.conv_transpose2d(h, w, stride=2)
                pad = max((h.shape[-1] - 1) * 2 + 4 - size, 0)
                start = pad // 2
                h = F.relu(full[..., start:start + size, start:start + size])
            return h.reshape(-1, N_FEATURES)

    def normal_conv(conv, stddev):
        nn.init.normal_(conv.weight, std=stddev)
        nn.init.zeros_(conv.bias)
        return conv

    class SamePad(nn.Module):
        def forward(self, h):  # 5x5 stride 2 SAME: (out-1)*2 + 5 - in, more at the end
            pad = max((-(-h.shape[-1] // 2) - 1) * 2 + 5 - h.shape[-1], 0)
            return F.pad(h, (pad // 2, pad - pad // 2) * 2)

    if name == "linear_classifier":
        return nn.Sequential(nn.Linear(N_FEATURES, N_CLASSES), nn.Softmax(dim=1))
    if name == "conv_classifier":
        return nn.Sequential(
            nn.Unflatten(1, (1, IMAGE_SIZE, IMAGE_SIZE)), SamePad(), normal_conv(nn.Conv2d(1, 32, 5, 2), 1.0),
            nn.ReLU(), SamePad(), normal_conv(nn.Conv2d(32, 64, 5, 2), 1.0), nn.ReLU(),
            nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Linear(128, N_CLASSES),
            nn.Softmax(dim=1))
    return Tied(convolutional=name == "conv_autoencoder")


def run_torch(request):
    """Trains the PyTorch twin with torch.optim.Adam, eagerly (request["style"] "eager") or
    with the model and its loss compiled by torch.compile ("compile"; the first steps, which
    compile, are the warm-up)."""
    import torch

    torch.manual_seed(0)
    name, bs, steps = request["model"], request["batch_size"], request["steps"]
    x, y, tx, ty = map(torch.from_numpy, _arrays(request))
    target, test_target = (y, ty) if name in CLASSIFIERS else (x, tx)
    model = _torch_model(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

    def loss(p, t):
        if name in CLASSIFIERS:
            return -(t * torch.log(p + EPSILON)).sum()
        return ((p - t) ** 2).mean(dim=1).mean()

    def quality():
        with torch.no_grad():
            p = torch.cat([model(tx[i:i + 1000]) for i in range(0, len(tx), 1000)])
        if name in CLASSIFIERS:
            return float((p.argmax(1) == test_target.argmax(1)).float().mean())
        return float(((p - test_target) ** 2).mean(dim=1).mean())

    before = quality()
    forward = (torch.compile(lambda xb, tb: loss(model(xb), tb))
               if request["style"] == "compile" else lambda xb, tb: loss(model(xb), tb))
    warm = 3 if request["style"] == "compile" else 1
    batches = _batches(len(x), bs, steps + warm)
    for i, idx in enumerate(batches):
        if i == warm:
            start = time.perf_counter()
        optimizer.zero_grad()
        forward(x[idx], target[idx]).backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    after = quality()
    score_seconds = time.perf_counter() - start
    return dict(images_per_s=steps * bs / seconds, before=before, after=after,
                score_images_per_s=len(tx) / score_seconds, peak_mb=peak_mb())


def main():
    """`python -m cadl_graph.bench.peers`: a JSON request on stdin, a JSON result on stdout."""
    request = json.load(sys.stdin)
    runner = run_torch if request["framework"] == "torch" else run_keras
    json.dump(runner(request), sys.stdout)


if __name__ == "__main__":
    main()
