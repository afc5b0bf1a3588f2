"""`cadl-graph lecture`, run from a checkout; its flags and --help are in
cadl_graph/commands/lecture.py."""

from cadl_graph.commands import lecture

if __name__ == "__main__":
    lecture.run()
