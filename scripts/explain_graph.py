"""`cadl-graph explain_graph`, run from a checkout; its flags and --help are in
cadl_graph/commands/explain_graph.py."""

from cadl_graph.commands import explain_graph

if __name__ == "__main__":
    explain_graph.run()
