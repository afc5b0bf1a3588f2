"""The lecture's graphs, op for op, and the course's VAE; every graph by name.

  layers        the course's layers (its libs/utils.py): linear, conv2d, deconv2d, corrupt
  batch_norm    the course's batch norm, and its repaired variant
  hparam_types  what each builder's hyperparameters accept
  model         Model: the tensors a caller needs from a built graph
  autoencoders  the tied fully connected and convolutional autoencoders (In[10]-[30])
  classifiers   the linear and convolutional classifiers (In[41]-[65])
  vae           the course's VAE (variational, denoising, convolutional)
  sequence      the Out[48] graph: two lecture graphs built into one
  registry      every graph by name, with the lecture's hyperparameters and recipe
"""
