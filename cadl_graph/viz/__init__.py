"""Pictures: montages, PNGs and GIFs, and the figures of trained models.

  images     montages of images and of filters, PNGs with a colour map
  gif        animated GIFs of a run's frames
  figures    reconstructions, weights, latent spaces, curves (matplotlib)
"""
