"""`cadl-graph fetch_mnist`, run from a checkout; its flags and --help are in
cadl_graph/commands/fetch_mnist.py."""

from cadl_graph.commands import fetch_mnist

if __name__ == "__main__":
    fetch_mnist.run()
