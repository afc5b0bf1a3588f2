"""`cadl-graph train`, run from a checkout; its flags and --help are in
cadl_graph/commands/train.py."""

from cadl_graph.commands import train

if __name__ == "__main__":
    train.run()
