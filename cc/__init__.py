"""The C++ loader's source, shipped with the package as `cadl_graph.cc_files`.

Not Python: `cadl_graph.export.loader` compiles load_graph.cc against the installed TensorFlow
(`make cc`, `cadl-graph build_loader`); Bazel builds the same file (BUILD).
"""
