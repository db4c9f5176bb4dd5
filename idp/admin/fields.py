"""Type checks for JSON and form input, before any service sees it: a wrong type is a
400 naming the field, never a 500."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput

_NAMES = {
    str: "a string",
    bool: "true or false",
    int: "a whole number",
    list: "a list",
    dict: "an object",
}


def typed(data: Any, spec: Mapping[str, tuple[type, ...]]) -> dict[str, Any]:
    """The entries of ``data`` named in ``spec``, each of one of its types (None is
    allowed where ``type(None)`` is listed); unknown keys are refused."""
    if not isinstance(data, Mapping):
        raise InvalidInput("The request body must be a JSON object.", field="body")
    unknown = sorted(str(k) for k in data if k not in spec)
    if unknown:
        raise InvalidInput(
            "Unknown field: " + ", ".join(unknown)[:200] + ".", field=unknown[0][:64]
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        types = spec[key]
        # bool is an int in Python: accept it only where bool is listed.
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            wanted = " or ".join(_NAMES.get(t, "null") for t in types)
            raise InvalidInput(f"{key} must be {wanted}.", field=key)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{key} must be a list of strings.", field=key)
        out[key] = value
    return out


def required(data: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if data.get(name) in (None, "", []):
            raise InvalidInput(f"{name} is required.", field=name)


_ROW_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")


def row_id(value: object) -> bool:
    """A uuid-like row id (citizen, consent, staff): never a NUL byte or a path for the
    database to choke on."""
    return isinstance(value, str) and bool(_ROW_ID.match(value))
