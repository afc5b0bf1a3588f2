"""`cadl-graph seed_spread`, run from a checkout; its flags and --help are in
cadl_graph/commands/seed_spread.py."""

from cadl_graph.commands import seed_spread

if __name__ == "__main__":
    seed_spread.run()
