"""`cadl-graph export_graph`, run from a checkout; its flags and --help are in
cadl_graph/commands/export_graph.py."""

from cadl_graph.commands import export_graph

if __name__ == "__main__":
    export_graph.run()
