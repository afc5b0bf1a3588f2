"""Helpers the absl scripts share."""

import json


def parse_assignments(items, flag):
    """['name=JSON', ...] from a repeated flag as {name: value}.

    Raises:
      ValueError: an item without '=' or a name, or a value that is not JSON (say `true`,
        `0.1`, `[1.0]`, `"text"`); the message names the flag.
    """
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--{flag} takes NAME=VALUE, got {item!r}")
        try:
            values[name] = json.loads(value)
        except ValueError:
            raise ValueError(f"--{flag} {name}: {value!r} is not a JSON value "
                             "(e.g. true, 0.1, [1.0])") from None
    return values
