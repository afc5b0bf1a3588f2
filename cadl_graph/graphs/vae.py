"""The course's `VAE`: a (variational) (convolutional) (denoising) autoencoder.

One builder covers the lecture's "resources" models, with the course library's names and
structure:

  x [None, ...]        placeholder "x" (input_shape)
  phase_train          bool placeholder, no static shape (feed a scalar): True while
                       training (batch norm statistics)
  keep_prob            float32 placeholder, no static shape (feed a scalar): dropout keep
                       probability (1.0 = none)
  Placeholder          float32 [1], unnamed: corrupt_prob, the share of the input that is
                       masked noise (1.0 = corrupted, 0.0 = clean; the course's docstring had
                       it backwards)
  encoder/{i}/         conv2d (scope conv2d) or linear (scope fc), batch norm bn{i},
                       activation, optional dropout
  variational/         W_fc (n_hidden), mu, log_sigma, epsilon, z, fc_t (n_hidden), fc_t2
  decoder/{i}/         deconv2d or linear with NEW (untied) weights, batch norm dec/bn{i},
                       activation (the output layer included)
  cost                 mean over the batch of the per-example squared error sum
                       (+ the KL divergence when variational)

Like the course, `phase_train` and `keep_prob` are declared without a shape, so their outputs
are `<unknown>` in a golden. Its batch norm is the course's too, flaw included (see
`cadl_graph.graphs.batch_norm`); `batch_norm_update="in_cond"` builds the repaired variant, whose
variables are the same. The course's `n_filters` default was a list that every call reversed in
place; here the arguments are never mutated (a fix that changes no op).
"""

from cadl_graph.compat import tf
from cadl_graph.graphs import layers as utils
from cadl_graph.graphs.batch_norm import UPDATES, batch_norm
from cadl_graph.graphs.hparam_types import (
    Count,
    HparamError,
    InputShape,
    PositiveInt,
    Probability,
    Rate,
    Sizes,
    Switch,
    choice,
)
from cadl_graph.graphs.model import Model, adam_minimize, initializer, placeholder


def VAE(input_shape=(None, 784), n_filters=(64, 64, 64), filter_sizes=(4, 4, 4),  # noqa: N802
        n_hidden=32, n_code=2, activation=tf.nn.tanh, dropout=False, denoising=False,
        convolutional=False, variational=False, batch_norm_update="course", inputs=None):
    """Builds the autoencoder into the default graph.

    Args:
      input_shape: the input placeholder's shape, e.g. [None, 784].
      n_filters: channels per convolutional layer, or units per fully connected layer.
      filter_sizes: kernel size of each convolutional layer (convolutional only).
      n_hidden: units of the fully connected layers around the code (variational only;
        0 for none).
      n_code: number of latent Gaussians (variational only).
      activation: applied after every batch norm, e.g. tf.nn.sigmoid.
      dropout: apply `tf.nn.dropout(h, keep_prob)` after every activation.
      denoising: feed the encoder `corrupt(x) * corrupt_prob + x * (1 - corrupt_prob)`.
      convolutional: conv2d/deconv2d layers on [?, s, s, c] (see `layers.to_tensor`) instead
        of linear ones.
      variational: add the sampling layer and the KL term.
      batch_norm_update: "course" (the course's graph) or "in_cond" (the repaired batch norm
        whose inference runs change no variable); see `cadl_graph.graphs.batch_norm`.
      inputs: tensors to build on instead of the four placeholders (`model.placeholder`).

    Returns:
      dict with 'x', 'x_' (what the encoder sees: x, or x with masking noise when
      denoising), 'z' (the code: [?, n_code] if variational, else the last encoder
      output), 'y' (reconstruction, shaped like the input to the first layer: [?, 784] fully
      connected, [?, 28, 28, 1] convolutional), 'cost' (float32 scalar), 'Ws' (encoder
      weights, last layer first), 'keep_prob', 'corrupt_prob', 'train' (phase_train), and,
      when variational, 'z_mu' and 'z_log_sigma' [?, n_code].
    """
    input_shape, n_filters, filter_sizes = list(input_shape), list(n_filters), list(filter_sizes)
    x = placeholder(inputs, "x", tf.float32, input_shape, "x")
    phase_train = placeholder(inputs, "phase_train", tf.bool, name="phase_train")
    keep_prob = placeholder(inputs, "keep_prob", tf.float32, name="keep_prob")
    corrupt_prob = placeholder(inputs, "corrupt_prob", tf.float32, [1])

    def activate(h, bn_name):
        h = activation(batch_norm(h, phase_train, bn_name, update=batch_norm_update))
        return tf.nn.dropout(h, keep_prob) if dropout else h

    x_ = utils.corrupt(x) * corrupt_prob + x * (1 - corrupt_prob) if denoising else x
    current_input = utils.to_tensor(x_) if convolutional else x_
    h, Ws, shapes = _encoder(current_input, n_filters, filter_sizes, convolutional, activate)
    with tf.variable_scope("variational"):
        if variational:
            z, h, end_points = _sample_and_expand(h, x, n_hidden, n_code, convolutional,
                                                  activate)
        else:
            z, end_points = h, {}
    y = _decoder(h, shapes, n_filters[::-1][1:] + [input_shape[-1]], filter_sizes,
                 convolutional, activate)
    cost = _cost(x, y, end_points)

    return {"cost": cost, "Ws": Ws[::-1], "x": x, "x_": x_, "z": z, "y": y,
            "keep_prob": keep_prob, "corrupt_prob": corrupt_prob, "train": phase_train,
            **end_points}


def _encoder(current_input, n_filters, filter_sizes, convolutional, activate):
    """Layers `encoder/{i}`: conv2d (stride 2) or linear, then `activate`.

    Returns:
      (the last layer's output, the weights in layer order, each layer's input shape and the
      last output's shape, for the decoder).
    """
    Ws, shapes = [], []
    for layer_i, n_output in enumerate(n_filters):
        with tf.variable_scope(f"encoder/{layer_i}"):
            shapes.append(current_input.get_shape().as_list())
            if convolutional:
                h, W = utils.conv2d(x=current_input, n_output=n_output,
                                    k_h=filter_sizes[layer_i], k_w=filter_sizes[layer_i])
            else:
                h, W = utils.linear(x=current_input, n_output=n_output)
            current_input = activate(h, f"bn{layer_i}")
            Ws.append(W)
    shapes.append(current_input.get_shape().as_list())
    return current_input, Ws, shapes


def _sample_and_expand(h, x, n_hidden, n_code, convolutional, activate):
    """Inside scope `variational`: the code's Gaussians, a sample, and the way back up.

    Args:
      h: the encoder's output, [?, n] or [?, s, s, c].
      x: the input placeholder: epsilon has one row per example of its batch.

    Returns:
      (z [?, n_code], the decoder's input shaped like `h`, {'z_mu', 'z_log_sigma'}).
    """
    dims = h.get_shape().as_list()
    flat = utils.flatten(h)
    if n_hidden:
        flat = activate(utils.linear(flat, n_hidden, name="W_fc")[0], "fc/bn")
    z_mu = utils.linear(flat, n_code, name="mu")[0]
    z_log_sigma = 0.5 * utils.linear(flat, n_code, name="log_sigma")[0]
    # Reparameterisation: z = mu + eps * sigma with eps ~ N(0, 1), so gradients reach mu and
    # sigma through a deterministic path.
    epsilon = tf.random_normal(tf.stack([tf.shape(x)[0], n_code]))
    z = z_mu + tf.multiply(epsilon, tf.exp(z_log_sigma))
    up = activate(utils.linear(z, n_hidden, name="fc_t")[0], "fc_t/bn") if n_hidden else z
    size = dims[1] * dims[2] * dims[3] if convolutional else dims[1]
    up = activate(utils.linear(up, size, name="fc_t2")[0], "fc_t2/bn")
    if convolutional:
        up = tf.reshape(up, tf.stack([tf.shape(up)[0], dims[1], dims[2], dims[3]]))
    return z, up, {"z_mu": z_mu, "z_log_sigma": z_log_sigma}


def _decoder(current_input, shapes, decoder_sizes, filter_sizes, convolutional, activate):
    """Layers `decoder/{i}` with new (untied) weights: deconv2d back through the encoder's
    shapes, or linear to `decoder_sizes`; `activate` on every layer, the output's included.
    """
    shapes = shapes[::-1]
    for layer_i, n_output in enumerate(decoder_sizes):
        with tf.variable_scope(f"decoder/{layer_i}"):
            if convolutional:
                shape = shapes[layer_i + 1]
                h, _ = utils.deconv2d(x=current_input, n_output_h=shape[1],
                                      n_output_w=shape[2], n_output_ch=shape[3],
                                      n_input_ch=shapes[layer_i][3],
                                      k_h=filter_sizes[layer_i], k_w=filter_sizes[layer_i])
            else:
                h, _ = utils.linear(x=current_input, n_output=n_output)
            current_input = activate(h, f"dec/bn{layer_i}")
    return current_input


def _cost(x, y, code):
    """The batch mean of each example's summed squared pixel error, plus, when `code` holds
    the Gaussians (variational), their KL divergence from N(0, 1): float32 scalar."""
    loss_x = tf.reduce_sum(tf.squared_difference(utils.flatten(x), utils.flatten(y)), 1)
    if not code:
        return tf.reduce_mean(loss_x)
    z_mu, z_log_sigma = code["z_mu"], code["z_log_sigma"]
    loss_z = -0.5 * tf.reduce_sum(
        1.0 + 2.0 * z_log_sigma - tf.square(z_mu) - tf.exp(2.0 * z_log_sigma), 1)
    return tf.reduce_mean(loss_x + loss_z)


ACTIVATIONS = {"sigmoid": tf.nn.sigmoid, "tanh": tf.nn.tanh, "relu": tf.nn.relu}


def vae_model(*, learning_rate: Rate, input_shape: InputShape, n_filters: Sizes,
              filter_sizes: Sizes = (4, 4, 4), n_hidden: Count = 32, n_code: PositiveInt = 2,
              activation: choice(*ACTIVATIONS) = "tanh", dropout: Switch = False,
              keep_prob: Probability = 1.0, denoising: Switch = False,
              convolutional: Switch = False, variational: Switch = False,
              batch_norm_update: choice(*UPDATES) = "course", minimize=None, inputs=None):
    """A registry preset: `VAE(...)`, then `AdamOptimizer(learning_rate).minimize(cost)`, init.

    Defaults are `VAE`'s (the course's); the presets' values live in `cadl_graph.graphs.registry`.

    Args:
      learning_rate: Adam's learning rate.
      activation: a key of ACTIVATIONS (a string, so that it can be written in a golden).
      keep_prob: dropout keep probability fed while training (used when dropout=True).
      the rest: as `VAE`.

    Returns:
      Model whose feeds bind the auxiliary placeholders: training uses batch statistics and
      corrupts the input fully when denoising; inference uses the moving averages, no dropout
      and the clean input.

    Raises:
      HparamError: fewer filter sizes than convolutional layers.
    """
    if convolutional and len(filter_sizes) < len(n_filters):
        raise HparamError(f"a convolutional VAE needs a filter size per layer: n_filters "
                          f"{list(n_filters)}, filter_sizes {list(filter_sizes)}")
    vae_args = dict(input_shape=input_shape, n_filters=n_filters, filter_sizes=filter_sizes,
                    n_hidden=n_hidden, n_code=n_code, dropout=dropout, denoising=denoising,
                    convolutional=convolutional, variational=variational,
                    batch_norm_update=batch_norm_update)
    net = VAE(activation=ACTIVATIONS[activation], inputs=inputs, **vae_args)
    train_op = adam_minimize(net["cost"], learning_rate, minimize)
    init_op = initializer(inputs)
    train_feed = {net["train"]: True, net["keep_prob"]: keep_prob,
                  net["corrupt_prob"]: [1.0 if denoising else 0.0]}
    eval_feed = {net["train"]: False, net["keep_prob"]: 1.0, net["corrupt_prob"]: [0.0]}
    # Forward tensors only: x_ is the placeholder itself unless the input is corrupted.
    end_points = {k: net[k] for k in ("x_", "z_mu", "z_log_sigma")
                  if k in net and (k != "x_" or denoising)}
    placeholders = {"phase_train": net["train"], "keep_prob": net["keep_prob"],
                    "corrupt_prob": net["corrupt_prob"]}
    return Model(x=net["x"], y=net["y"], z=net["z"], cost=net["cost"], train_op=train_op,
                 init_op=init_op, train_feed=train_feed, eval_feed=eval_feed,
                 end_points=end_points, placeholders=placeholders,
                 hparams=dict(learning_rate=learning_rate, activation=activation,
                              keep_prob=keep_prob,
                              **{k: list(v) if isinstance(v, tuple) else v
                                 for k, v in vae_args.items()}))
