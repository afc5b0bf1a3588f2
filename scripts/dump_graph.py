"""`cadl-graph dump_graph`, run from a checkout; its flags and --help are in
cadl_graph/commands/dump_graph.py."""

from cadl_graph.commands import dump_graph

if __name__ == "__main__":
    dump_graph.run()
