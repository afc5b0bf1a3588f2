"""The graph whose op names the lecture printed in Out[48]: two lecture graphs in one.

In the notebook, the conv autoencoder's cells (In[23]-[30]) ran, and then the linear
classifier's cells (In[41]-[47]) built into the SAME default graph, with no reset between. The
second graph's unnamed ops therefore got suffixed names: `Placeholder_1`, `gradients_1`,
`Adam_1`, `beta1_power_1`, `init_1`. Out[48] lists every op of that graph.
"""

import dataclasses

from cadl_graph.graphs import autoencoders, classifiers, hparam_types


def lecture_sequence(*, learning_rate: hparam_types.Rate, minimize=None, inputs=None):
    """The graph of Out[48]: the conv autoencoder's cells, then the linear classifier's, in ONE
    graph with no reset between, hence `Placeholder_1`, `gradients_1`, `Adam_1`, `init_1`.

    Returns:
      the linear classifier's Model (the last cells), with the autoencoder's end points and
      output among its end points under "autoencoder/...".
    """
    autoencoder = autoencoders.conv_autoencoder(
        n_filters=[16, 16, 16], filter_sizes=[4, 4, 4], learning_rate=learning_rate,
        minimize=minimize, inputs=inputs)
    classifier = classifiers.linear_classifier(learning_rate=learning_rate, minimize=minimize,
                                               inputs=inputs)
    end_points = {f"autoencoder/{k}": v for k, v in autoencoder.end_points.items()}
    end_points.update({"autoencoder/y": autoencoder.y, **classifier.end_points})
    return dataclasses.replace(classifier, end_points=end_points,
                               hparams=dict(learning_rate=learning_rate))
