"""`cadl-graph diff_graph`, run from a checkout; its flags and --help are in
cadl_graph/commands/diff_graph.py."""

from cadl_graph.commands import diff_graph

if __name__ == "__main__":
    diff_graph.run()
