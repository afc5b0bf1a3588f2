"""`cadl-graph local_cluster`, run from a checkout; its flags and --help are in
cadl_graph/commands/local_cluster.py."""

from cadl_graph.commands import local_cluster

if __name__ == "__main__":
    local_cluster.run()
