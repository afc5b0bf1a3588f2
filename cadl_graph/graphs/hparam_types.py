"""The types of hyperparameters, written where builders declare them, and checked before use.

A builder documents each hyperparameter with an annotation from here:

    def conv_autoencoder(*, n_filters: Sizes, filter_sizes: Sizes, learning_rate: Rate): ...

Each annotation is a `typing.Annotated` type that carries a `Check`: a test and the words for
what it accepts. `check(builder, values)` tests every value against its builder's annotations
and raises one `HparamError` that lists every value that does not fit, so a `--hparam` of the
wrong type or range is refused before any graph is built (JSON gives 1 for an int and 1.0 for
a float: a whole number is accepted where a float is asked for, never the other way round).
"""

import dataclasses
import math
import typing
from typing import Annotated, Callable

from cadl_graph.errors import ConfigError


class HparamError(ConfigError):
    """A hyperparameter is unknown, or its value does not fit its type."""


@dataclasses.dataclass(frozen=True)
class Check:
    """What a hyperparameter accepts: `test(value)` is True, described as `accepts`."""

    accepts: str
    test: Callable[[object], bool]


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _positive_ints(v):
    return isinstance(v, list) and len(v) > 0 and all(_is_int(x) and x > 0 for x in v)


def choice(*options):
    """An annotation for a string that must be one of `options`."""
    return Annotated[str, Check(f"one of {', '.join(map(repr, options))}",
                                lambda v: isinstance(v, str) and v in options)]


Rate = Annotated[float, Check("a finite number > 0", lambda v: _is_number(v) and v > 0)]
Stddev = Annotated[float, Check("a finite number > 0", lambda v: _is_number(v) and v > 0)]
Probability = Annotated[float, Check("a number in (0, 1]", lambda v: _is_number(v) and 0 < v <= 1)]
PositiveInt = Annotated[int, Check("an integer >= 1", lambda v: _is_int(v) and v >= 1)]
Count = Annotated[int, Check("an integer >= 0", lambda v: _is_int(v) and v >= 0)]
Sizes = Annotated[list, Check("a non-empty list of integers >= 1, e.g. [16, 16, 16]",
                              _positive_ints)]
Switch = Annotated[bool, Check("true or false", lambda v: isinstance(v, bool))]
InputShape = Annotated[list, Check(
    "[null, n] with n >= 1 (a batch of flat images)",
    lambda v: isinstance(v, list) and len(v) == 2 and v[0] is None and _is_int(v[1]) and v[1] > 0)]


def _checks(builder):
    """{argument name: Check} from `builder`'s annotations."""
    hints = typing.get_type_hints(builder, include_extras=True)
    return {name: meta for name, hint in hints.items()
            for meta in getattr(hint, "__metadata__", ()) if isinstance(meta, Check)}


def check(builder, values, model="the model"):
    """Checks `values` ({name: value}) against `builder`'s annotated arguments.

    Raises:
      HparamError: listing every unknown name and every value that does not fit.
    """
    checks = _checks(builder)
    known = set(checks)  # every hyperparameter is annotated; other arguments are not ones
    problems = [f"  {name}: no such hyperparameter (it takes {', '.join(sorted(checks))})"
                for name in values if name not in known]
    for name, value in values.items():
        rule = checks.get(name)
        if rule is not None and not rule.test(value):
            problems.append(f"  {name}={value!r}: must be {rule.accepts}")
    if problems:
        raise HparamError(f"bad hyperparameters for {model}:\n" + "\n".join(problems))
