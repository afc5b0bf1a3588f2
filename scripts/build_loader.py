"""`cadl-graph build_loader`, run from a checkout; its flags and --help are in
cadl_graph/commands/build_loader.py."""

from cadl_graph.commands import build_loader

if __name__ == "__main__":
    build_loader.run()
