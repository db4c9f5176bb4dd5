"""Read a population-registry extract, CSV or JSON lines, into checked rows: no database.

``idp.citizens_import`` writes what this module reads. Formats (README "Loading the
population registry"):

- **CSV**, header ``id_number,name`` plus optional ``phone`` and the address of household
  registration either as one ``address`` column (the formatted address) or as
  ``address_<member>`` columns for the OIDC Core 5.1.1 members (``address_formatted``,
  ``address_street_address``, ``address_locality``, ``address_region``,
  ``address_postal_code``, ``address_country``). Other columns are ignored and reported;
  an unknown ``address_...`` column, or the formatted address twice, makes the file
  unusable (a misspelt member would otherwise drop data silently).
- **JSON lines**, one object per line: ``id_number``, ``name``, optional ``phone`` (a
  string or null) and ``address`` (an object of those members, or null). Other keys are
  ignored and reported; an unknown address member is an error of that row.

A column or key that is absent leaves the stored value alone; an empty cell, ``""`` or
null clears it. Every bad row is reported by line, field and rule, its ID number
redacted; a line that is not JSON is one bad row, not a bad file.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .authn.citizens import normalise_name
from .authn.citizens import normalise_phone
from .errors import InvalidInput
from .ids import IdNumber
from .ids import InvalidIdNumber
from .ids import parse_id_number
from .ids import redact
from .models.address import MEMBERS as ADDRESS_MEMBERS
from .models.address import InvalidAddress
from .models.address import normalise_address

FORMATS = ("csv", "jsonl")
REQUIRED_COLUMNS = ("id_number", "name")
OPTIONAL_COLUMNS = ("phone", "address")
# CSV column -> Address Claim member; "address" alone is the formatted address.
ADDRESS_COLUMNS = {"address": "formatted", **{f"address_{m}": m for m in ADDRESS_MEMBERS}}


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None  # "id_number", "name", "phone", an address column or member, None
    rule: str
    id_number: str  # redacted, never the clear number


@dataclass(frozen=True)
class Row:
    line: int
    number: IdNumber
    name: str
    phone: str | None
    address: dict[str, str] | None
    has_phone: bool  # the row says something about the phone (else keep the stored one)
    has_address: bool


@dataclass(frozen=True)
class Extract:
    rows: list[Row]
    errors: list[RowError]
    ignored: tuple[str, ...]  # columns or keys not read


def read_extract(*, data: bytes, encoding: str = "utf-8", fmt: str = "csv") -> Extract:
    """The rows and row errors of the file; raises ``ImportFileError`` for an unusable one."""
    try:
        # utf-8-sig: spreadsheet programs write a byte-order mark; it is not in the header.
        text = data.decode("utf-8-sig" if encoding.lower() in {"utf-8", "utf8"} else encoding)
    except (UnicodeDecodeError, LookupError):
        raise ImportFileError(f"The file is not readable as {encoding} text.") from None
    if fmt == "jsonl":
        return _read_jsonl(text)
    if fmt != "csv":
        raise ImportFileError("The format must be csv or jsonl.")
    return _read_csv(text)


# --- CSV ----------------------------------------------------------------------------------------


def _read_csv(text: str) -> Extract:
    # strict: an unterminated quote is an error, not a field that swallows the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
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
            read = _csv_row(start, cells, header)
            if isinstance(read, Row):
                rows.append(read)
            else:
                errors.extend(read)
    except csv.Error:
        raise ImportFileError(f"The CSV is malformed near line {line}.") from None
    if header is None:
        raise ImportFileError("The file is empty: it has no header line.")
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *ADDRESS_COLUMNS}
    return Extract(rows, errors, tuple(c for c in header if c not in known))


def _header(cells: list[str]) -> list[str]:
    names = [unicodedata.normalize("NFKC", c).strip().lower() for c in cells]
    if len(set(names)) != len(names):
        raise ImportFileError("The header names a column twice.")
    if not all(c in names for c in REQUIRED_COLUMNS):
        raise ImportFileError(
            "The header must name the columns id_number and name (phone is optional)."
        )
    if "address" in names and "address_formatted" in names:
        raise ImportFileError("Give the formatted address once: address or address_formatted.")
    unknown = [c for c in names if c.startswith("address_") and c not in ADDRESS_COLUMNS]
    if unknown:
        members = ", ".join(f"address_{m}" for m in ADDRESS_MEMBERS)
        raise ImportFileError(f"Unknown address column {unknown[0][:40]!r}; use {members}.")
    return names


def _csv_row(line: int, cells: list[str], header: list[str]) -> Row | list[RowError]:
    record = dict(zip(header, cells, strict=False))
    if len(cells) != len(header):
        rule = f"the row has {len(cells)} fields, the header has {len(header)}"
        return [RowError(line, None, rule, redact(record.get("id_number", "")))]
    columns = {c: ADDRESS_COLUMNS[c] for c in header if c in ADDRESS_COLUMNS}
    address = {member: record[column] for column, member in columns.items()}
    field_of = {member: column for column, member in columns.items()}
    return _row(
        line,
        record,
        has_phone="phone" in header,
        address=address if columns else None,
        has_address=bool(columns),
        address_field=lambda member: field_of.get(member or "", "address"),
    )


# --- JSON lines ---------------------------------------------------------------------------------


def _read_jsonl(text: str) -> Extract:
    rows: list[Row] = []
    errors: list[RowError] = []
    ignored: dict[str, None] = {}
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            errors.append(RowError(line, None, "the line is not valid JSON", ""))
            continue
        if not isinstance(record, dict):
            errors.append(RowError(line, None, "the line is not a JSON object", ""))
            continue
        # Key names are the file's: shown only when short and printable.
        ignored.update((k, None) for k in record if k not in known and _plain(k))
        problems = _jsonl_types(line, record)
        if problems:
            errors.extend(problems)
            continue
        read = _row(
            line,
            {**record, "phone": record.get("phone") or ""},
            has_phone="phone" in record,
            address=record.get("address"),
            has_address="address" in record,
            address_field=lambda member: f"address.{member}" if member else "address",
        )
        if isinstance(read, Row):
            rows.append(read)
        else:
            errors.extend(read)
    return Extract(rows, errors, tuple(ignored))


def _jsonl_types(line: int, record: dict[str, Any]) -> list[RowError]:
    number = record.get("id_number")
    shown = redact(number) if isinstance(number, str) else ""
    problems = [
        RowError(line, key, "must be a string", shown)
        for key in ("id_number", "name")
        if not isinstance(record.get(key), str)
    ]
    if record.get("phone") is not None and not isinstance(record["phone"], str):
        problems.append(RowError(line, "phone", "must be a string or null", shown))
    if record.get("address") is not None and not isinstance(record["address"], dict):
        problems.append(RowError(line, "address", "must be an object or null", shown))
    return problems


# --- one row, either format ---------------------------------------------------------------------


def _row(
    line: int,
    record: dict[str, Any],
    *,
    has_phone: bool,
    address: dict[str, Any] | None,
    has_address: bool,
    address_field: Callable[[str | None], str],
) -> Row | list[RowError]:
    shown = redact(record.get("id_number", ""))
    errors: list[RowError] = []
    number = name = phone = clean_address = None
    try:
        number = parse_id_number(number=record["id_number"])
    except InvalidIdNumber as exc:
        errors.append(RowError(line, "id_number", exc.rule.value, shown))
    try:
        name = normalise_name(name=record["name"])
    except InvalidInput as exc:
        errors.append(RowError(line, "name", exc.public.rstrip("."), shown))
    try:
        raw_phone = str(record.get("phone", "")).strip()
        phone = normalise_phone(phone=raw_phone) if raw_phone else None
    except InvalidInput as exc:
        errors.append(RowError(line, "phone", exc.public.rstrip("."), shown))
    try:
        clean_address = normalise_address(address)
    except InvalidAddress as exc:
        errors.append(RowError(line, address_field(exc.member), exc.public.rstrip("."), shown))
    if errors or number is None or name is None:
        return errors
    return Row(
        line=line,
        number=number,
        name=name,
        phone=phone,
        address=clean_address,
        has_phone=has_phone,
        has_address=has_address,
    )


def _plain(name: str) -> bool:
    return len(name) <= 40 and name.isprintable()
