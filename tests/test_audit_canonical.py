"""The audit trail's canonical bytes did not change when they got cheaper (issue 7).

``idp.audit.jcs`` writes RFC 8785 with the C JSON encoder where that is provably the
same as ``rfc8785``, and ``chain.mask`` skips its JSON round trip for details that are
already plain JSON. The oracle here is the code before that change, copied verbatim
(``rfc8785.dumps`` over the same members, ``strftime`` times, mask after a round
trip): for every value below both give the same bytes, or the same error; and chains
written by either verify with the other, in the database, version 1 rows included.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from enum import IntEnum
from enum import StrEnum
from typing import Any

import pytest
import rfc8785
from conftest import CITIZEN_ID_NUMBER
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from idp import audit
from idp.audit import EventType
from idp.audit import canonical
from idp.audit import chain
from idp.audit import jcs
from idp.cryptosuite import digest
from idp.extensions import db
from idp.models import AuditChainHead
from idp.models import AuditEvent
from idp.models import AuditPending

# -- the code before the change (the oracle) ------------------------------------------


def old_timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def old_said(*, at: datetime, alg: str, **columns: Any) -> dict[str, Any]:
    return {
        "at": old_timestamp(at),
        "alg": alg,
        **{name: columns[name] for name in canonical.CONTENT_COLUMNS},
    }


def old_content_hash(alg: str, **fields: Any) -> str:
    return digest(alg, rfc8785.dumps({"v": 2, **old_said(alg=alg, **fields)}))


def old_record_hash(alg: str, *, seq: int, prev_hash: str, **fields: Any) -> str:
    body = {"v": 1, "seq": seq, "prev_hash": prev_hash, **old_said(alg=alg, **fields)}
    return digest(alg, rfc8785.dumps(body))


def old_link_hash(alg: str, *, seq: int, prev_hash: str, content_hash: str) -> str:
    body = {"v": 2, "seq": seq, "prev_hash": prev_hash, "content_hash": content_hash, "alg": alg}
    return digest(alg, rfc8785.dumps(body))


def old_mask(details: Any) -> Any:
    plain = json.loads(json.dumps(details, default=str))
    return _old_mask_value(plain, key="")


def _old_mask_value(value: Any, *, key: str) -> Any:
    if isinstance(value, dict):
        return {str(k): _old_mask_value(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_old_mask_value(v, key=key) for v in value]
    if isinstance(value, float):
        return str(value)
    if isinstance(value, str):
        if key == "id_number" or chain._is_id_number(value):
            return chain.redact(value)
        return value if len(value) <= 500 else value[:500] + "..."
    return value


# -- values ---------------------------------------------------------------------------


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    TWO = 2


STRINGS = [
    "",
    "a",
    "token.issue",
    "é",
    "中文姓名",
    "\u2028",
    "\u2029",
    "\x7f",
    "\x80",
    "\x00",
    "\x01\x1f",
    "\b\f\n\r\t",
    '"',
    "\\",
    "/",
    "</script>",
    "😀",
    "\U0010ffff",
    "\ud7ff",
    "\ue000",
    "\uffff",
    "\ufeff",
    "a\u0300",
    "Ａ１２",
    " ",
    "x" * 600,
    CITIZEN_ID_NUMBER,
    "110105 19491231 002X",
]
INTS = [0, 1, -1, 7, 2**31, 2**53 - 1, -(2**53 - 1), 2**53, -(2**53), 10**20, True, False]
FLOATS = [0.0, -0.0, 1.0, 0.1, 1e21, 1e-7, 123.456, 5e-324, float("inf"), float("nan")]
KEYS = [
    "",
    "a",
    "B",
    "b",
    "id_number",
    "é",
    "中",
    "\u2028",
    "😀",
    "\ue000",  # after 😀 in UTF-16 order (U+D83D...), before it in code points
    "\uffff",
    "\x00",
    "\n",
    "ab",
    "a\x00",
]
ODD = [
    (1, "two"),
    [],
    {},
    Colour.RED,
    Level.TWO,
    b"bytes",
    {1, 2},
    OrderedDict(b=1, a=2),
    {1: "int key"},
    {None: "null key"},
    datetime(2026, 1, 1, tzinfo=UTC),
    "\ud800",  # a lone surrogate
    {"\udfff": 1},
    10**5000,
]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth < 4 and pick < 0.25:
        return {rng.choice(KEYS + STRINGS[:20]): _random_value(rng, depth + 1) for _ in range(4)}
    if depth < 4 and pick < 0.4:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    pool = rng.choice([STRINGS, STRINGS, INTS, FLOATS, [None], ODD])
    return rng.choice(pool)


def _values() -> list[Any]:
    rng = random.Random(8785)
    values: list[Any] = [*STRINGS, *INTS, *FLOATS, None, *ODD]
    values += [{k: i} for i, k in enumerate(KEYS)]
    values.append({k: k for k in KEYS})
    values += [_random_value(rng) for _ in range(3000)]
    return values


def _outcome(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except Exception as e:  # the same error class, for values RFC 8785 refuses
        return type(e)


# -- the canonical bytes ----------------------------------------------------------------


def test_jcs_writes_the_bytes_rfc8785_writes():
    for value in _values():
        assert _outcome(jcs.dumps, value) == _outcome(rfc8785.dumps, value), repr(value)[:200]


def test_jcs_matches_rfc8785_for_every_code_point():
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert jcs.dumps(every) == rfc8785.dumps(every)
    assert jcs.dumps([every]) == rfc8785.dumps([every])
    # As keys: every character below U+3000 and a stride of the rest, BMP and beyond.
    keys = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and (c < 0x3000 or c % 97 == 0)]
    members = {chr(c) + "k": c for c in keys}
    members.update({"k" + chr(c): c for c in keys})
    assert jcs.dumps(members) == rfc8785.dumps(members)


def test_a_typical_record_takes_the_json_encoder():
    """Or the saving is gone without a test failing."""
    fields = _columns({"grant": "g" * 32, "scope": "openid profile", "refresh_token": True})
    said = {"v": 2, **old_said(**fields)}
    assert jcs._same_in_json(said, 0)
    assert not jcs._same_in_json({**said, "f": 1.5}, 0)
    assert not jcs._same_in_json({**said, "😀": 1}, 0)
    assert not jcs._same_in_json({**said, "n": 2**53}, 0)


def test_timestamps_are_written_as_before():
    base = datetime(2026, 11, 26, 11, 7, 24, 123456, tzinfo=UTC)
    cases = [
        base,
        base.replace(microsecond=0),
        base.astimezone(timezone(timedelta(hours=8))),
        base.astimezone(timezone(timedelta(hours=-3, minutes=-30))),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(5, 6, 7, 8, 9, 10, 11, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    for at in cases:
        assert canonical.timestamp(at) == old_timestamp(at)


def test_masked_details_are_as_before():
    details = [v for v in _values() if isinstance(v, dict)]
    details += [
        {"typed": CITIZEN_ID_NUMBER, "id_number": "garbage", "list": [CITIZEN_ID_NUMBER]},
        {"nested": {"id_number": ["a", {"b": CITIZEN_ID_NUMBER}]}},
        {"tuple": ("a", CITIZEN_ID_NUMBER), "enum": Colour.RED, "level": Level.TWO},
        {"at": datetime(2026, 1, 1, tzinfo=UTC), 3: "int key", True: "bool key"},
        {"big": 2**53, "small": -(2**53), "huge": 10**30, "f": 0.1, "nan": float("nan")},
        {"deep": json.loads("[" * 40 + "1" + "]" * 40)},
        OrderedDict(b=1, a=2),
    ]
    for value in details:
        masked = _outcome(chain.mask, value)
        assert repr(masked) == repr(_outcome(old_mask, value)), repr(value)[:200]


# -- chains written by either code verify with the other --------------------------------

DETAILS = [
    {"grant": "g" * 32, "scope": "openid profile phone", "acr": "2", "refresh_token": True},
    {"via": "id_token", "categories": ["openid", "profile"], "items": ["acr", "name"]},
    {"name": "张三", "note": '\u2028 😀 \x01\t"\\ \ue000 \U0010ffff', "empty": "", "none": None},
    {"n": 2**53 - 1, "neg": -(2**53 - 1), "zero": 0, "f": 2.5, "list": [[], {}, [None]]},
    {"😀": 1, "\ue000": 2, "中": {"b": {"a": [1, "x"]}}, "id_number": "abc"},
    {"typed": CITIZEN_ID_NUMBER, "long": "y" * 700},
    {},
]


def _columns(details: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {
        "event": "token.issue",
        "outcome": "success",
        "actor_type": "client",
        "actor_id": "portal-1",
        "citizen_id": None,
        "client_id": "portal-1",
        "ip": "203.0.113.9",
        "channel": None,
        "details": details,
        "at": datetime.now(UTC),
        "alg": "sha256",
        **over,
    }


def _row_fields(row: Any) -> dict[str, Any]:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return {"at": at, **{name: getattr(row, name) for name in canonical.CONTENT_COLUMNS}}


@pytest.fixture(params=["international", "national"])
def app_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"IDP_CRYPTO_SUITE": request.param, "IDP_AUDIT_SEAL_ON_COMMIT": False}


def test_chains_verify_across_the_change(app):
    alg = app.extensions["idp.keyring"].suite.hash_name
    # Version 1 rows, as the code before the sealer chained them (the old bytes).
    head = chain.lock_head(db.session)
    seq, prev = int(head.seq), str(head.hash)
    for details in DETAILS:
        seq += 1
        fields = _columns(old_mask(details), alg=alg, event="login.success")
        digest_ = old_record_hash(seq=seq, prev_hash=prev, **fields)
        row = {**fields, "seq": seq, "prev_hash": prev, "hash": digest_, "content_hash": None}
        db.session.execute(insert(AuditEvent.__table__), row)
        prev = digest_
    db.session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=seq, hash=prev)
    )
    # Version 2 records as the previous code wrote them, sealed by this one.
    for details in DETAILS:
        fields = _columns(old_mask(details), alg=alg, event="data.release")
        row = {**fields, "content_hash": old_content_hash(**fields)}
        db.session.execute(insert(AuditPending.__table__), row)
    db.session.commit()
    # And records written by this code.
    for details in DETAILS:
        audit.record(EventType.TOKEN_ISSUE, client_id="portal-1", details=details)
    db.session.commit()
    audit.seal()

    report = audit.verify()
    assert report.ok, report.problems
    assert report.records == 3 * len(DETAILS)
    # The previous code verifies every row: the bytes it hashed are the bytes stored.
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    prev = rows[0].prev_hash
    for row in rows:
        assert row.alg == alg and row.prev_hash == prev
        if row.content_hash is None:
            expected = old_record_hash(alg, seq=row.seq, prev_hash=prev, **_row_fields(row))
        else:
            assert row.content_hash == old_content_hash(alg, **_row_fields(row))
            expected = old_link_hash(
                alg, seq=row.seq, prev_hash=prev, content_hash=row.content_hash
            )
        assert row.hash == expected
        prev = row.hash
