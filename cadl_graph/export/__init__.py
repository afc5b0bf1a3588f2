"""Exports, and what runs them: a checkpoint becomes a GraphDef file or a SavedModel.

  freeze       restore, convert variables to constants, check and write the .pb
  saved_model  the same graph as a SavedModel folder with signatures
  summarize    what a GraphDef holds (TensorFlow's summarize_graph, in Python)
  predict      run a GraphDef file on images
  loader       the C++ loader compiled against the installed TensorFlow
"""
