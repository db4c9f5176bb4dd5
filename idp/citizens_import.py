"""Load a population-registry extract (CSV or JSON lines) into ``registry_entry``.

Semantics, chosen so that nothing valid is lost and nothing is half-written:

- The whole file is validated before anything is written (``idp.registry_extract`` reads
  and checks it). A file that cannot be used at all (undecodable, no ``id_number``/
  ``name`` header, broken quoting, an unknown address column) raises ``ImportFileError``
  and writes nothing.
- Each bad row is reported by line number, field and broken rule, the ID number
  redacted. A number twice in one file (in any form, e.g. 15 and 18 digits) is an error
  on every row that carries it: we cannot tell which row is right.
- All valid rows are written in one transaction (all or, on a database error, none).
  With ``strict=True`` one bad row means nothing is written.
- Idempotent: rows are keyed on the blind index of the normalised number; a known number
  is updated in place if its name, phone, address or derived fields changed, else left
  alone. A file (CSV) or row (JSON lines) without a phone or address leaves the stored
  one alone; an empty cell or null clears it.
- The address of household registration is the registry's: a citizen who already has
  an account (same blind index) gets the new address on it in the same transaction
  (``accounts_updated``); name and phone on the account are the citizen's and stay.
- ``dry_run=True`` validates and counts exactly as a real run would, and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .authn.citizens import keyring
from .authn.citizens import registry_context
from .extensions import db
from .ids import redact
from .ids.protect import blind_index
from .ids.protect import seal
from .models import Citizen
from .models import RegistryEntry
from .models._types import new_id
from .models._types import utcnow
from .registry_extract import FORMATS
from .registry_extract import ImportFileError
from .registry_extract import Row as _Row
from .registry_extract import RowError
from .registry_extract import read_extract

__all__ = ["FORMATS", "ImportFileError", "ImportReport", "RowError", "import_registry"]

_LOOKUP_CHUNK = 500  # blind indexes per SELECT ... IN (...)
_CONCURRENT = "Another import changed the registry meanwhile; nothing was written. Run again."


@dataclass(frozen=True)
class ImportReport:
    inserted: int
    updated: int
    unchanged: int
    rejected: int  # rows, not errors: one row may break several rules
    accounts_updated: int  # citizens' accounts whose address followed the registry
    errors: tuple[RowError, ...]
    ignored_columns: tuple[str, ...]
    dry_run: bool
    written: bool  # False for a dry run, or for strict mode with rejected rows


def import_registry(
    *,
    data: bytes,
    encoding: str = "utf-8",
    fmt: str = "csv",
    dry_run: bool = False,
    strict: bool = False,
) -> ImportReport:
    """Validate ``data`` (``fmt`` csv or jsonl) and apply its valid rows (see the module
    docstring)."""
    extract = read_extract(data=data, encoding=encoding, fmt=fmt)
    rows, errors = _reject_duplicates(extract.rows, extract.errors)
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
            key: value for key, value in _fields(row).items() if getattr(entry, key) != value
        }
        if not changes:
            unchanged += 1
            continue
        updated += 1
        if write:
            for key, value in changes.items():
                setattr(entry, key, value)
            entry.updated_at = utcnow()
    accounts_updated = _follow_address(by_index, write=write)
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
        accounts_updated=accounts_updated,
        errors=tuple(sorted(errors, key=lambda e: e.line)),
        ignored_columns=extract.ignored,
        dry_run=dry_run,
        written=write,
    )


def _new_entry(row: _Row, *, index: str) -> RegistryEntry:
    entry_id = new_id()
    sealed = seal(keyring(), row.number.normalised, context=registry_context(entry_id))
    return RegistryEntry(id=entry_id, id_number_enc=sealed, id_number_index=index, **_fields(row))


def _follow_address(by_index: dict[str, _Row], *, write: bool) -> int:
    """Bring the accounts' addresses in line with the rows that give one; the count."""
    wanted = {index: row.address for index, row in by_index.items() if row.has_address}
    changed = 0
    for citizen in _existing_accounts(list(wanted)):
        address = wanted[citizen.id_number_index]
        if citizen.address == address:
            continue
        changed += 1
        if write:
            citizen.address = address
    return changed


def _fields(row: _Row) -> dict[str, object]:
    fields: dict[str, object] = {
        "id_type": row.number.id_type.value,
        "name": row.name,
        "birthdate": row.number.birthdate,
        "gender": row.number.sex,
    }
    if row.has_phone:
        fields["phone"] = row.phone
    if row.has_address:
        fields["address"] = row.address
    return fields


def _existing(indexes: list[str]) -> dict[str, RegistryEntry]:
    found: dict[str, RegistryEntry] = {}
    for start in range(0, len(indexes), _LOOKUP_CHUNK):
        column = RegistryEntry.id_number_index
        query = select(RegistryEntry).where(column.in_(indexes[start : start + _LOOKUP_CHUNK]))
        found.update((entry.id_number_index, entry) for entry in db.session.scalars(query))
    return found


def _existing_accounts(indexes: list[str]) -> list[Citizen]:
    found: list[Citizen] = []
    for start in range(0, len(indexes), _LOOKUP_CHUNK):
        column = Citizen.id_number_index
        query = select(Citizen).where(column.in_(indexes[start : start + _LOOKUP_CHUNK]))
        found.extend(db.session.scalars(query))
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
