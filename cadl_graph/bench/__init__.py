"""Speed, measured: the training loop beside a bare loop, Keras 3 and PyTorch twins.

  benchmark  the runs, their table and plot
  peers      the Keras and PyTorch twins of the models (run in their own process)
"""
