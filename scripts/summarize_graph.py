"""`cadl-graph summarize_graph`, run from a checkout; its flags and --help are in
cadl_graph/commands/summarize_graph.py."""

from cadl_graph.commands import summarize_graph

if __name__ == "__main__":
    summarize_graph.run()
