"""Canonical serialisation of a record: RFC 8785, JSON Canonicalization Scheme (JCS).

https://www.rfc-editor.org/rfc/rfc8785 : "a JSON canonicalization scheme ... suitable
for cryptographic hashing". Members sorted by UTF-16 code units (3.2.3), no whitespace,
ES6 number serialisation (3.2.2.3), minimal string escaping (3.2.2.2). The ``rfc8785``
package (Trail of Bits, pure Python) implements it; ``jcs.dumps`` writes the same bytes
with the C JSON encoder for the values records hold, and hands everything else (floats,
keys with non-BMP characters, where a plain ``json.dumps`` would differ) to ``rfc8785``.

Two body versions, told apart by ``content_hash`` (NULL in version 1):

- **version 1** (records written before the sealer): the hashed body is every column of
  the record except ``hash`` itself, the time in ISO 8601 UTC with microseconds.
- **version 2** (idp.audit.sealer): the action that writes a record hashes its content
  (every column but ``seq``, ``prev_hash`` and the hashes; ``content``), once, when it
  writes it; the sealer later gives it its place and hashes the link: ``seq``,
  ``prev_hash`` and that ``content_hash`` (``link``). An edit of the content, before or
  after sealing, no longer matches ``content_hash``; an edit of ``content_hash`` or a
  move no longer matches ``hash``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from ..cryptosuite import digest
from ..cryptosuite import same
from . import jcs

BODY_VERSION = 1
SEALED_VERSION = 2
GENESIS = "0" * 64  # prev_hash of record 1


def timestamp(at: datetime) -> str:
    """ISO 8601 UTC with microseconds: ``2026-11-26T11:07:24.123456Z``."""
    utc = at.astimezone(UTC)
    if utc.year < 1000:  # strftime writes such a year without leading zeros
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


# What a record says (both versions hash these), besides its time and algorithm.
CONTENT_COLUMNS = (
    "event",
    "outcome",
    "actor_type",
    "actor_id",
    "citizen_id",
    "client_id",
    "ip",
    "channel",
    "details",
)


def _said(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The members every version hashes: the content columns, the time, the algorithm."""
    said = {"at": timestamp(columns["at"]), "alg": columns["alg"]}
    for name in CONTENT_COLUMNS:
        said[name] = columns[name]
    return said


def body(*, seq: int, prev_hash: str, **fields: Any) -> bytes:
    """Version 1: the content and the record's place, hashed together."""
    return jcs.dumps({"v": BODY_VERSION, "seq": seq, "prev_hash": prev_hash, **_said(fields)})


def content(**fields: Any) -> bytes:
    """Version 2: what the record says, without its place in the chain."""
    return _content(fields)


def _content(columns: Mapping[str, Any]) -> bytes:
    return jcs.dumps({"v": SEALED_VERSION, **_said(columns)})


def _row_content(row: Any) -> dict[str, Any]:
    """A stored row's content columns and time (SQLite returns naive UTC times)."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return {"at": at, **{name: getattr(row, name) for name in CONTENT_COLUMNS}}


def content_hash(alg: str, **fields: Any) -> str:
    """The hash an action stores with a version-2 record it writes."""
    fields["alg"] = alg
    return digest(alg, _content(fields))


def link_hash(alg: str, *, seq: int, prev_hash: str, content_hash: str) -> str:
    """Version 2: the record's place in the chain (``audit_event.hash``)."""
    body = jcs.dumps(
        {
            "v": SEALED_VERSION,
            "seq": seq,
            "prev_hash": prev_hash,
            "content_hash": content_hash,
            "alg": alg,
        }
    )
    return digest(alg, body)


def content_intact(row: Any) -> bool:
    """A version-2 row's content still matches the hash taken when it was written (a
    version-1 row's content is covered by ``row_hash``)."""
    stored = getattr(row, "content_hash", None)
    if stored is None:
        return True
    return same(row_content_hash(row), stored)


def row_content_hash(row: Any) -> str:
    return content_hash(row.alg, **_row_content(row))


def record_hash(alg: str, **fields: Any) -> str:
    """The hash stored in ``audit_event.hash`` for a record with these columns."""
    return digest(alg, body(alg=alg, **fields))


def row_hash(row: Any, *, seq: int | None = None) -> str:
    """Recompute a stored row's hash (``seq`` overrides its position, to tell a moved
    record from an edited one). Version 2: the link over its stored ``content_hash``
    (``content_intact`` checks the content)."""
    stored = getattr(row, "content_hash", None)
    if stored is not None:
        return link_hash(
            row.alg,
            seq=row.seq if seq is None else seq,
            prev_hash=row.prev_hash,
            content_hash=stored,
        )
    return record_hash(
        row.alg,
        seq=row.seq if seq is None else seq,
        prev_hash=row.prev_hash,
        **_row_content(row),
    )
