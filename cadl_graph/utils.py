"""The course's `libs.utils` under the names the lecture uses.

    from cadl_graph.utils import montage, montage_filters

Layers (`linear`, `conv2d`, ...) join these as the lecture's graphs are built.
"""

from cadl_graph.images import montage, montage_filters

__all__ = ["montage", "montage_filters"]
