"""Golden op listings: pin a graph's ops in a text file and compare any graph with it.

  listing        golden format 2: one line per op, rendering, parsing, diffs by scope
  graphdiff      any two graph sources (file, golden, registry model) compared
  pytest_plugin  the graph_golden fixture and --update-goldens, for anyone's graphs
"""
