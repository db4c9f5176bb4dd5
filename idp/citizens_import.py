"""Load a population-registry extract (CSV) into ``registry_entry``.

Semantics, chosen so that nothing valid is lost and nothing is half-written:

- The whole file is validated before anything is written. A file that cannot be used at
  all (undecodable, no ``id_number``/``name`` header, broken quoting) raises
  ``ImportFileError`` and writes nothing.
- Each bad row is reported by line number and broken rule, the ID number redacted. A
  number twice in one file (in any form, e.g. 15 and 18 digits) is an error on every row
  that carries it: we cannot tell which row is right.
- All valid rows are written in one transaction (all or, on a database error, none).
  With ``strict=True`` one bad row means nothing is written.
- Idempotent: rows are keyed on the blind index of the normalised number; a known number
  is updated in place if its name, phone or derived fields changed, else left alone. A
  file without a ``phone`` column leaves stored phones alone; an empty cell clears one.
- ``dry_run=True`` validates and counts exactly as a real run would, and writes nothing.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .authn.citizens import keyring
from .authn.citizens import normalise_name
from .authn.citizens import normalise_phone
from .authn.citizens import registry_context
from .errors import InvalidInput
from .extensions import db
from .ids import IdNumber
from .ids import InvalidIdNumber
from .ids import parse_id_number
from .ids import redact
from .ids.protect import blind_index
from .ids.protect import seal
from .models import RegistryEntry
from .models._types import new_id
from .models._types import utcnow

REQUIRED_COLUMNS = ("id_number", "name")
OPTIONAL_COLUMNS = ("phone",)
_LOOKUP_CHUNK = 500  # blind indexes per SELECT ... IN (...)
_CONCURRENT = "Another import changed the registry meanwhile; nothing was written. Run again."


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None  # "id_number", "name", "phone", or None for the row's shape
    rule: str
    id_number: str  # redacted, never the clear number


@dataclass(frozen=True)
class _Row:
    line: int
    number: IdNumber
    name: str
    phone: str | None


@dataclass(frozen=True)
class ImportReport:
    inserted: int
    updated: int
    unchanged: int
    rejected: int  # rows, not errors: one row may break several rules
    errors: tuple[RowError, ...]
    ignored_columns: tuple[str, ...]
    dry_run: bool
    written: bool  # False for a dry run, or for strict mode with rejected rows


def import_registry(
    *, data: bytes, encoding: str = "utf-8", dry_run: bool = False, strict: bool = False
) -> ImportReport:
    """Validate the CSV ``data`` and apply its valid rows (see the module docstring)."""
    rows, errors, has_phone, ignored = _read(data=data, encoding=encoding)
    rows, errors = _reject_duplicates(rows, errors)
    rejected = len({e.line for e in errors})
    write = not dry_run and not (strict and rejected)

    kr = keyring()
    by_index = {blind_index(kr, row.number.normalised): row for row in rows}
    existing = _existing(list(by_index))
    inserted = updated = unchanged = 0
    for index, row in by_index.items():
        entry = existing.get(index)
        if entry is None:
            inserted += 1
            if write:
                db.session.add(_new_entry(row, index=index))
            continue
        changes = {
            key: value
            for key, value in _fields(row, has_phone=has_phone).items()
            if getattr(entry, key) != value
        }
        if not changes:
            unchanged += 1
            continue
        updated += 1
        if write:
            for key, value in changes.items():
                setattr(entry, key, value)
            entry.updated_at = utcnow()
    if write:
        try:
            db.session.commit()
        except IntegrityError:
            # A concurrent import inserted one of our numbers first: ours is all or nothing.
            db.session.rollback()
            raise ImportFileError(_CONCURRENT) from None
    else:
        db.session.rollback()
    return ImportReport(
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        rejected=rejected,
        errors=tuple(sorted(errors, key=lambda e: e.line)),
        ignored_columns=ignored,
        dry_run=dry_run,
        written=write,
    )


def _new_entry(row: _Row, *, index: str) -> RegistryEntry:
    entry_id = new_id()
    sealed = seal(keyring(), row.number.normalised, context=registry_context(entry_id))
    return RegistryEntry(
        id=entry_id, id_number_enc=sealed, id_number_index=index, **_fields(row, has_phone=True)
    )


def _fields(row: _Row, *, has_phone: bool) -> dict[str, object]:
    fields: dict[str, object] = {
        "id_type": row.number.id_type.value,
        "name": row.name,
        "birthdate": row.number.birthdate,
        "gender": row.number.sex,
    }
    if has_phone:
        fields["phone"] = row.phone
    return fields


def _existing(indexes: list[str]) -> dict[str, RegistryEntry]:
    found: dict[str, RegistryEntry] = {}
    for start in range(0, len(indexes), _LOOKUP_CHUNK):
        column = RegistryEntry.id_number_index
        query = select(RegistryEntry).where(column.in_(indexes[start : start + _LOOKUP_CHUNK]))
        found.update((entry.id_number_index, entry) for entry in db.session.scalars(query))
    return found


def _reject_duplicates(
    rows: list[_Row], errors: list[RowError]
) -> tuple[list[_Row], list[RowError]]:
    lines_of: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        lines_of[row.number.normalised].append(row.line)
    kept = []
    for row in rows:
        lines = lines_of[row.number.normalised]
        if len(lines) == 1:
            kept.append(row)
            continue
        others = ", ".join(str(n) for n in lines if n != row.line)
        rule = f"the same ID number is also on line {others}"
        errors.append(RowError(row.line, "id_number", rule, redact(row.number.normalised)))
    return kept, errors


def _read(
    *, data: bytes, encoding: str
) -> tuple[list[_Row], list[RowError], bool, tuple[str, ...]]:
    try:
        # utf-8-sig: spreadsheet programs write a byte-order mark; it is not in the header.
        text = data.decode("utf-8-sig" if encoding.lower() in {"utf-8", "utf8"} else encoding)
    except (UnicodeDecodeError, LookupError):
        raise ImportFileError(f"The file is not readable as {encoding} text.") from None
    # strict: an unterminated quote is an error, not a field that swallows the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[_Row] = []
    errors: list[RowError] = []
    header: list[str] | None = None
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if header is None:
                header = _header(cells)
                continue
            read = _read_row(start, cells, header)
            if isinstance(read, _Row):
                rows.append(read)
            else:
                errors.extend(read)
    except csv.Error:
        raise ImportFileError(f"The CSV is malformed near line {line}.") from None
    if header is None:
        raise ImportFileError("The file is empty: it has no header line.")
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
    ignored = tuple(c for c in header if c not in known)
    return rows, errors, "phone" in header, ignored


def _header(cells: list[str]) -> list[str]:
    names = [unicodedata.normalize("NFKC", c).strip().lower() for c in cells]
    if len(set(names)) != len(names):
        raise ImportFileError("The header names a column twice.")
    if not all(c in names for c in REQUIRED_COLUMNS):
        raise ImportFileError(
            "The header must name the columns id_number and name (phone is optional)."
        )
    return names


def _read_row(line: int, cells: list[str], header: list[str]) -> _Row | list[RowError]:
    record = dict(zip(header, cells, strict=False))
    shown = redact(record.get("id_number", ""))
    if len(cells) != len(header):
        rule = f"the row has {len(cells)} fields, the header has {len(header)}"
        return [RowError(line, None, rule, shown)]
    errors: list[RowError] = []
    number = name = phone = None
    try:
        number = parse_id_number(number=record["id_number"])
    except InvalidIdNumber as exc:
        errors.append(RowError(line, "id_number", exc.rule.value, shown))
    try:
        name = normalise_name(name=record["name"])
    except InvalidInput as exc:
        errors.append(RowError(line, "name", exc.public.rstrip("."), shown))
    try:
        raw_phone = record.get("phone", "").strip()
        phone = normalise_phone(phone=raw_phone) if raw_phone else None
    except InvalidInput as exc:
        errors.append(RowError(line, "phone", exc.public.rstrip("."), shown))
    if errors or number is None or name is None:
        return errors
    return _Row(line=line, number=number, name=name, phone=phone)
