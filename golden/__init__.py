"""The golden op listings, shipped with the package as `cadl_graph.golden_files`.

Plain-text files, not code: `cadl_graph.golden.listing` explains their format and finds them
here, in a checkout and in an installed wheel alike.
"""
