"""`cadl-graph benchmark`, run from a checkout; its flags and --help are in
cadl_graph/commands/benchmark.py."""

from cadl_graph.commands import benchmark

if __name__ == "__main__":
    benchmark.run()
