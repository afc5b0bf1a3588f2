"""`cadl-graph batch_norm_flaw`, run from a checkout; its flags and --help are in
cadl_graph/commands/batch_norm_flaw.py."""

from cadl_graph.commands import batch_norm_flaw

if __name__ == "__main__":
    batch_norm_flaw.run()
