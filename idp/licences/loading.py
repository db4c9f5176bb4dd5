"""Load licences in batches: a file (``idp licences import``) or a department's API call.

Semantics (the README's "Loading licences" section):

- All or nothing. Every row is validated first; if any row is bad nothing is written,
  and each bad row is reported with its line (file) or position (API, from 1), the
  field and the broken rule, the holder's ID number redacted. A file that cannot be
  read at all (encoding, CSV quoting, JSON) raises ``LoadFileError``.
- Idempotent on (type, number): a licence on record is updated in place if anything
  changed, else left alone. Its status is not touched by loading (``store.set_status``
  does that), and a licence may not change holder or issuing department by a load.
- A department (API) loads only its own licences: a row naming another department, or
  a (type, number) on record for another department, is a bad row.
- ``dry_run`` validates and counts exactly as a real load would, and writes nothing.

Row members: ``type``, ``number``, ``id_number`` (the holder), ``department`` (the API
fills in the caller's), ``issued_on`` and ``expires_on`` (``YYYY-MM-DD``; expiry
optional), ``fields`` (an object of strings: the type's required fields, and optional
ones; ``idp.licences.types``). In CSV the fields are columns named ``fields.<name>``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..authn.citizens import keyring
from ..errors import InvalidInput
from ..extensions import db
from ..ids import InvalidIdNumber
from ..ids import parse_id_number
from ..ids import redact
from ..ids.protect import blind_index
from ..ids.resident_id import today_in_china
from ..models import Licence
from ..models._types import utcnow
from .types import LICENCE_TYPES

COLUMNS = ("type", "number", "id_number", "department", "issued_on", "expires_on")
FIELD_PREFIX = "fields."
MAX_FIELD_LENGTH = 500
MAX_DEPARTMENT_LENGTH = 200
_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOOKUP_CHUNK = 500
_CONCURRENT = "Another load changed these licences meanwhile; nothing was written. Run again."


class LoadFileError(InvalidInput):
    """The input as a whole cannot be used; nothing was written."""


@dataclass(frozen=True)
class RowError:
    line: int  # file line, or position in the API batch (from 1)
    field: str | None  # None: the row's shape
    rule: str
    id_number: str  # redacted, never the clear number


@dataclass(frozen=True)
class LoadReport:
    inserted: int
    updated: int
    unchanged: int
    rejected: int  # rows, not errors: one row may break several rules
    errors: tuple[RowError, ...]
    dry_run: bool
    written: bool


@dataclass(frozen=True)
class _Row:
    line: int
    type: str
    number: str
    holder_index: str
    shown: str  # redacted ID number, for reports
    department: str
    issued_on: date
    expires_on: date | None
    fields: dict[str, str]


# --- reading -----------------------------------------------------------------------------


def read_file(data: bytes, *, fmt: str, encoding: str = "utf-8") -> list[tuple[int, Any]]:
    """(line, record) pairs from CSV or JSON lines; raises ``LoadFileError``."""
    try:
        text = data.decode("utf-8-sig" if encoding.lower() in {"utf-8", "utf8"} else encoding)
    except (UnicodeDecodeError, LookupError):
        raise LoadFileError(f"The file is not readable as {encoding} text.") from None
    if fmt == "jsonl":
        return _read_jsonl(text)
    if fmt == "csv":
        return _read_csv(text)
    raise LoadFileError("The format must be csv or jsonl.")


def _read_jsonl(text: str) -> list[tuple[int, Any]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except (ValueError, RecursionError):
            raise LoadFileError(f"Line {number} is not valid JSON.") from None
    if not records:
        raise LoadFileError("The file holds no licence.")
    return records


def _read_csv(text: str) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    records: list[tuple[int, Any]] = []
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = _csv_header(cells)
                continue
            if len(cells) != len(header):
                records.append(
                    (start, f"the row has {len(cells)} fields, the header has {len(header)}")
                )
                continue
            record: dict[str, Any] = {"fields": {}}
            for name, cell in zip(header, cells, strict=True):
                value = cell.strip()
                if name.startswith(FIELD_PREFIX):
                    if value:
                        record["fields"][name[len(FIELD_PREFIX) :]] = value
                elif value:
                    record[name] = value
            records.append((start, record))
    except csv.Error:
        raise LoadFileError(f"The CSV is malformed near line {line}.") from None
    if header is None:
        raise LoadFileError("The file is empty: it has no header line.")
    return records


def _csv_header(cells: list[str]) -> list[str]:
    names = [unicodedata.normalize("NFKC", c).strip() for c in cells]
    names = [n if n.startswith(FIELD_PREFIX) else n.lower() for n in names]
    if len(set(names)) != len(names):
        raise LoadFileError("The header names a column twice.")
    unknown = [n for n in names if n not in COLUMNS and not n.startswith(FIELD_PREFIX)]
    if unknown:
        raise LoadFileError(
            "Unknown column(s): " + ", ".join(unknown) + ". Document fields are named "
            "fields.<name>."
        )
    missing = [c for c in COLUMNS if c not in names and c not in ("expires_on", "department")]
    if missing:
        raise LoadFileError("The header must name the columns: " + ", ".join(missing) + ".")
    return names


# --- validating and writing -----------------------------------------------------------------


def load(
    records: Iterable[tuple[int, Any]], *, department: str | None = None, dry_run: bool = False
) -> LoadReport:
    """Validate every record, then write all of them or none (module docstring).

    ``department`` set: the caller is that department (API); rows may omit theirs.
    """
    rows: list[_Row] = []
    errors: list[RowError] = []
    for line, record in records:
        read = _validate(line, record, department=department)
        if isinstance(read, _Row):
            rows.append(read)
        else:
            errors.extend(read)
    rows, errors = _reject_duplicates(rows, errors)
    existing = _existing(rows)
    inserted = updated = unchanged = 0
    changes: list[tuple[Licence | None, _Row]] = []
    for row in rows:
        licence = existing.get((row.type, row.number))
        if licence is None:
            inserted += 1
            changes.append((None, row))
            continue
        if licence.holder_index != row.holder_index:
            errors.append(
                RowError(
                    row.line, "number", "this licence is on record for another holder", row.shown
                )
            )
        elif licence.department != row.department:
            errors.append(
                RowError(
                    row.line,
                    "department",
                    "this licence is on record for another department",
                    row.shown,
                )
            )
        elif _differs(licence, row):
            updated += 1
            changes.append((licence, row))
        else:
            unchanged += 1
    rejected = len({e.line for e in errors})
    write = not dry_run and not rejected
    if write:
        now = utcnow()
        for licence, row in changes:
            if licence is None:
                db.session.add(
                    Licence(
                        holder_index=row.holder_index,
                        type=row.type,
                        number=row.number,
                        created_at=now,
                        updated_at=now,
                        status="valid",
                        **_values(row),
                    )
                )
            else:
                for key, value in _values(row).items():
                    setattr(licence, key, value)
                licence.updated_at = now
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise LoadFileError(_CONCURRENT) from None
    else:
        db.session.rollback()
    if rejected:
        inserted = updated = unchanged = 0  # nothing was (or would be) written
    return LoadReport(
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        rejected=rejected,
        errors=tuple(sorted(errors, key=lambda e: e.line)),
        dry_run=dry_run,
        written=write,
    )


def _values(row: _Row) -> dict[str, Any]:
    return {
        "department": row.department,
        "issued_on": row.issued_on,
        "expires_on": row.expires_on,
        "fields": dict(row.fields),
    }


def _differs(licence: Licence, row: _Row) -> bool:
    return any(getattr(licence, key) != value for key, value in _values(row).items())


def _existing(rows: list[_Row]) -> dict[tuple[str, str], Licence]:
    found: dict[tuple[str, str], Licence] = {}
    by_type: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_type[row.type].append(row.number)
    for type_, numbers in by_type.items():
        for start in range(0, len(numbers), _LOOKUP_CHUNK):
            chunk = numbers[start : start + _LOOKUP_CHUNK]
            query = select(Licence).where(Licence.type == type_, Licence.number.in_(chunk))
            found.update(((lic.type, lic.number), lic) for lic in db.session.scalars(query))
    return found


def _reject_duplicates(
    rows: list[_Row], errors: list[RowError]
) -> tuple[list[_Row], list[RowError]]:
    lines_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows:
        lines_of[(row.type, row.number)].append(row.line)
    kept = []
    for row in rows:
        lines = lines_of[(row.type, row.number)]
        if len(lines) == 1:
            kept.append(row)
            continue
        others = ", ".join(str(n) for n in lines if n != row.line)
        errors.append(
            RowError(row.line, "number", f"the same licence is also on line {others}", row.shown)
        )
    return kept, errors


def _validate(line: int, record: Any, *, department: str | None) -> _Row | list[RowError]:
    if isinstance(record, str):  # a CSV row of the wrong shape
        return [RowError(line, None, record, "")]
    if not isinstance(record, dict):
        return [RowError(line, None, "a licence must be a JSON object", "")]
    raw_number = record.get("id_number")
    shown = redact(raw_number) if isinstance(raw_number, str) else ""
    errors: list[RowError] = []

    def fail(field: str | None, rule: str) -> None:
        errors.append(RowError(line, field, rule, shown))

    unknown = sorted(str(k) for k in record if k not in (*COLUMNS, "fields"))
    if unknown:
        fail(None, "unknown member(s): " + ", ".join(unknown[:5]))
    type_code = record.get("type")
    kind = LICENCE_TYPES.get(type_code) if isinstance(type_code, str) else None
    if kind is None:
        fail("type", "the type must be one of: " + ", ".join(LICENCE_TYPES))
    number = record.get("number")
    if isinstance(number, str):
        number = unicodedata.normalize("NFKC", number).strip()
    if not isinstance(number, str) or not _NUMBER.match(number):
        fail("number", "the number must be 1 to 64 letters, digits and dashes")
    holder_index = None
    if not isinstance(raw_number, str):
        fail("id_number", "the holder's ID number is missing")
    else:
        try:
            parsed = parse_id_number(number=raw_number)
            holder_index = blind_index(keyring(), parsed.normalised)
            shown = redact(parsed.normalised)
        except InvalidIdNumber as exc:
            fail("id_number", exc.rule.value)
    issuer = record.get("department")
    if department is not None:
        if issuer is not None and issuer != department:
            fail("department", "a department loads only its own licences")
        issuer = department
    elif isinstance(issuer, str):
        issuer = " ".join(issuer.split())
    if not isinstance(issuer, str) or not 0 < len(issuer) <= MAX_DEPARTMENT_LENGTH:
        fail("department", "the issuing department must be 1 to 200 characters")
    issued_on = _date(record.get("issued_on"), "issued_on", fail, required=True)
    expires_on = _date(record.get("expires_on"), "expires_on", fail, required=False)
    if issued_on and issued_on > today_in_china():
        fail("issued_on", "the issue date is in the future")
    if issued_on and expires_on and expires_on < issued_on:
        fail("expires_on", "the expiry date is before the issue date")
    fields = _fields(record.get("fields"), kind, fail)
    if errors:
        return errors
    assert kind and holder_index and issued_on and fields is not None
    assert isinstance(number, str) and isinstance(issuer, str)
    return _Row(
        line=line,
        type=kind.code,
        number=number,
        holder_index=holder_index,
        shown=shown,
        department=issuer,
        issued_on=issued_on,
        expires_on=expires_on,
        fields=fields,
    )


def _date(value: Any, field: str, fail: Any, *, required: bool) -> date | None:
    if value is None or value == "":
        if required:
            fail(field, "the date is missing (YYYY-MM-DD)")
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        fail(field, "the date must be YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(field, "no such date")
        return None


def _fields(value: Any, kind: Any, fail: Any) -> dict[str, str] | None:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        fail("fields", "the fields must be an object")
        return None
    if kind is None:
        return None
    clean: dict[str, str] = {}
    ok = True
    unknown = sorted(str(k) for k in value if k not in kind.fields)
    if unknown:
        fail("fields", f"not a field of a {kind.code}: " + ", ".join(unknown[:5]))
        ok = False
    for name, raw in value.items():
        if name not in kind.fields:
            continue
        text = unicodedata.normalize("NFC", raw).strip() if isinstance(raw, str) else None
        if (
            text is None
            or len(text) > MAX_FIELD_LENGTH
            or any(unicodedata.category(ch).startswith("C") for ch in text)
        ):
            fail(
                f"fields.{name}", "a field is text of at most 500 characters, no control characters"
            )
            ok = False
        elif text:
            clean[name] = text
    missing = [name for name in kind.required_fields if name not in clean]
    if missing:
        fail("fields", "missing required field(s): " + ", ".join(missing))
        ok = False
    return clean if ok else None
