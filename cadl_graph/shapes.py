"""Static shapes as lists and as the text the goldens and summaries print.

    dims(tf.TensorShape([None, 784]))   -> [None, 784]
    text([None, 28, 28, 1])             -> "[?,28,28,1]"
    text(None)                          -> "<unknown>"   (unknown rank)
"""


def dims(shape):
    """A TensorShape, or a TensorShapeProto (a GraphDef attribute), as a list with None for
    unknown dimensions; None for an unknown rank."""
    if hasattr(shape, "unknown_rank"):  # TensorShapeProto: unknown dims are -1
        return None if shape.unknown_rank else [d.size if d.size >= 0 else None
                                                for d in shape.dim]
    return None if shape.rank is None else shape.as_list()


def text(dim_list):
    """`[?,784]` for [None, 784], `[]` for a scalar, `<unknown>` for None."""
    if dim_list is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in dim_list) + "]"
