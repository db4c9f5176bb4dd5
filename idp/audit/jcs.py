"""RFC 8785 (JCS) bytes of a record, from the standard library's C JSON encoder.

The ``rfc8785`` package writes JCS one value at a time in Python: on every token issue
and data release it was a third of the CPU of an audit record (issue 7). For the values a
record holds, ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8 writes the same bytes (RFC 8785 section 3.2):

- strings (3.2.2.2): both escape exactly ``"``, ``\\`` and U+0000..U+001F, with the
  short forms ``\\b \\f \\n \\r \\t`` and otherwise ``\\u00xx`` in lower-case hex, and
  write every other character as itself (U+007F, U+2028, non-BMP: no escape);
- integers within +-(2**53 - 1), ``true``, ``false``, ``null``: the same digits and words;
- members (3.2.3): JCS sorts keys by UTF-16 code units, Python by code points; the two
  orders agree while no key holds a character from U+D800 up (below it a character is
  one code unit, equal to its code point);
- no whitespace, arrays in order.

Anything else goes to ``rfc8785`` itself, which also keeps its errors: floats (ES6
number form), integers beyond 2**53 - 1, keys with characters from U+D800 up, lone
surrogates (refused by both; caught here as ``UnicodeEncodeError``), subclasses of
str, int, dict or list (exact types only here), tuples, and other types.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

SAFE_INT = 2**53 - 1  # RFC 8785 3.2.2.3 / I-JSON: beyond this rfc8785 refuses
_MAX_DEPTH = 64  # deeper (or circular) input: rfc8785 decides
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def dumps(value: Any) -> bytes:
    """The RFC 8785 serialisation of ``value``, byte for byte ``rfc8785.dumps``."""
    if _same_in_json(value, 0):
        try:
            return _ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 raises its own error
    return rfc8785.dumps(value)


def _same_in_json(value: Any, depth: int) -> bool:
    """Whether ``value`` is in the domain where the two serialisations agree."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -SAFE_INT <= value <= SAFE_INT
    if depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) < "\ud800"):
                return False
            if type(item) is not str and not _same_in_json(item, depth + 1):
                return False  # (strings, most members, checked without a call)
        return True
    if kind is list:
        for item in value:
            if type(item) is not str and not _same_in_json(item, depth + 1):
                return False
        return True
    return False
