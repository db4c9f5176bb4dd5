"""The Address Claim of OIDC Core 5.1.1, validated and normalised: pure, no I/O.

https://openid.net/specs/openid-connect-core-1_0.html#AddressClaim: "The Address Claim
represents a physical mailing address. Implementations MAY return only a subset of the
fields of an address, depending upon the information available and the End-User's
privacy preferences." Its members are ``formatted``, ``street_address``, ``locality``,
``region``, ``postal_code`` and ``country``, all strings; ``formatted`` and
``street_address`` "MAY contain multiple lines, separated by newlines".

We hold the registry's address of household registration (户籍地址) in this shape, on
``registry_entry`` and ``citizen``; ``normalise_address`` is the one gate into both
columns (the models call it on every assignment), so UserInfo can release the stored
object as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput

MEMBERS = ("formatted", "street_address", "locality", "region", "postal_code", "country")
# Lengths in characters after normalisation; generous for a Chinese household address
# (a full one is rarely past 60 characters) and small enough to keep rows and pages sane.
MAX_LENGTH = {
    "formatted": 300,
    "street_address": 200,
    "locality": 100,
    "region": 100,
    "postal_code": 16,
    "country": 100,
}
MAX_LINES = 5  # OIDC Core 5.1.1 allows newlines in these two members only
_MULTILINE = frozenset({"formatted", "street_address"})
_POSTAL_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z \-]*")


class InvalidAddress(InvalidInput):
    """An address member broke a rule: ``field`` is ``address.<member>`` (or ``address``
    for the object as a whole), ``public`` the rule, in ASCII."""

    def __init__(self, public: str, *, member: str | None = None) -> None:
        super().__init__(public, field=f"address.{member}" if member else "address")
        self.member = member


def normalise_address(value: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The stored form of an address, or None when it has no member with a value.

    NFKC (full-width digits and letters become ASCII), whitespace runs collapsed, lines
    of the two multi-line members trimmed and empty lines dropped; a null or empty member
    is left out. Raises ``InvalidAddress`` for an unknown member, a member that is not a
    string, a control character, too many lines, an over-long member or a postal code
    that is not letters, digits, spaces and dashes.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidAddress("must be an object of address members")
    unknown = [str(name) for name in value if name not in MAX_LENGTH]
    if unknown:
        raise InvalidAddress(f"unknown address member {_shown(unknown[0])}")
    clean: dict[str, str] = {}
    for member in MEMBERS:
        raw = value.get(member)
        if raw is None:
            continue
        if not isinstance(raw, str):
            raise InvalidAddress("must be a string", member=member)
        text = _member_text(member, raw)
        if text:
            clean[member] = text
    return clean or None


def display_lines(address: Mapping[str, str] | None) -> list[str]:
    """The address as lines to show the citizen: ``formatted`` when the registry gave
    one, else the members from the largest unit to the smallest, as Chinese addresses
    are written."""
    if not address:
        return []
    if address.get("formatted"):
        return address["formatted"].split("\n")
    order = ("country", "region", "locality", "street_address", "postal_code")
    return [line for m in order if m in address for line in address[m].split("\n")]


def _member_text(member: str, raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).replace("\r\n", "\n").replace("\r", "\n")
    if member in _MULTILINE:
        lines = [" ".join(line.split()) for line in text.split("\n")]
        lines = [line for line in lines if line]
        if len(lines) > MAX_LINES:
            raise InvalidAddress(f"at most {MAX_LINES} lines", member=member)
        text = "\n".join(lines)
    else:
        if "\n" in text:
            raise InvalidAddress("must be one line", member=member)
        text = " ".join(text.split())
    if any(unicodedata.category(ch).startswith("C") for ch in text if ch != "\n"):
        raise InvalidAddress("contains characters that are not allowed", member=member)
    if len(text) > MAX_LENGTH[member]:
        raise InvalidAddress(f"longer than {MAX_LENGTH[member]} characters", member=member)
    if member == "postal_code" and text and not _POSTAL_CODE.fullmatch(text):
        raise InvalidAddress("only letters, digits, spaces and dashes", member=member)
    return text


def _shown(name: str) -> str:
    # The name comes from a file or a request: show it only if it is short and plain.
    if len(name) <= 40 and name.isascii() and name.isprintable():
        return repr(name)
    return "(not shown)"
