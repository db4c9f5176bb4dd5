"""Citizens keyed on their ID number: create, find, reveal, and match against the registry.

DESIGN.md "One number": one citizen, one record, however many channels and credentials.
The ID number is stored only sealed (AES-256-GCM, bound to the row) and found through its
blind index; ``id_number_of`` is the one place it is decrypted for a citizen.

Service module: uses the application's keyring and database session, never a request.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import InvalidInput
from ..extensions import db
from ..ids import InvalidIdNumber
from ..ids import parse_id_number
from ..ids.protect import blind_index
from ..ids.protect import seal
from ..ids.protect import unseal
from ..keyring import Keyring
from ..models import Citizen
from ..models import PasswordCredential
from ..models import RegistryEntry
from ..models._types import new_id
from ..models.address import normalise_address
from .methods.password import hash_password


class Proofing(StrEnum):
    """How well we know the person behind the number (DESIGN.md "Assurance")."""

    REGISTRY = "registry"  # name and number matched the population registry
    IN_PERSON = "in_person"  # verified at a service-hall counter


MAX_NAME_LENGTH = 200  # the column's width

# Middle dots used between the parts of transliterated and minority names (GB 18030
# writes U+00B7): the look-alikes people type are read as U+00B7.
_MIDDLE_DOTS = str.maketrans(dict.fromkeys("\u2022\u2027\u2219\u22c5\u30fb\uff65\u0387", "\u00b7"))
# CJK ideographs (URO, extension A, compatibility, extensions B-H) and radicals/kana.
_CJK = "[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")
_SPACE_AROUND_DOT = re.compile(r"\s*\u00b7\s*")
# A mainland mobile number (11 digits from 1[3-9]) or E.164 (ITU-T E.164: "+" and at most
# 15 digits). Kept in E.164 form so SMS gateways and comparisons see one spelling.
_CN_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def keyring() -> Keyring:
    kr: Keyring = current_app.extensions["idp.keyring"]
    return kr


def citizen_context(citizen_id: str) -> str:
    """Associated data for a citizen's sealed number: a blob only opens in its own row."""
    return f"citizen/{citizen_id}/id_number"


def registry_context(entry_id: str) -> str:
    return f"registry_entry/{entry_id}/id_number"


def normalise_name(*, name: str) -> str:
    """The stored and compared form of a real name.

    NFKC (full-width letters become ASCII), whitespace runs collapsed to one space,
    spaces between two CJK characters and around the middle dot dropped ("张 三" is "张三",
    "阿依古丽 • 买买提" is "阿依古丽·买买提"); Latin names keep their spaces.
    Raises ``InvalidInput`` for an empty, over-long or control-character name.
    """
    value = unicodedata.normalize("NFKC", name).translate(_MIDDLE_DOTS)
    value = " ".join(value.split())
    value = _SPACE_AROUND_DOT.sub("\u00b7", _SPACE_BETWEEN_CJK.sub("", value))
    if not value:
        raise InvalidInput("The name is empty.", field="name")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInput("The name is too long.", field="name")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput("The name contains characters that are not allowed.", field="name")
    return value


def names_match(*, claimed: str, registered: str) -> bool:
    """Equal after ``normalise_name`` and case folding (Latin names come in any case)."""
    try:
        return normalise_name(name=claimed).casefold() == normalise_name(name=registered).casefold()
    except InvalidInput:
        return False


def normalise_phone(*, phone: str) -> str:
    """A mobile number in E.164 form ("+8613800138000"); spaces and dashes are ignored."""
    value = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", phone))
    if cn := _CN_MOBILE.fullmatch(value):
        return "+86" + cn.group(1)
    if value.startswith("00"):
        value = "+" + value[2:]
    if _E164.fullmatch(value):
        return value
    raise InvalidInput("The phone number is not a valid mobile number.", field="phone")


def mask_phone(phone: str | None) -> str:
    """The number as "+86138****8000": enough to recognise it, no more ("" for none)."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:-8] + "****" + phone[-4:]


def create_citizen(
    *,
    id_number: str,
    name: str,
    phone: str | None = None,
    password: str | None = None,
    proofing: str = Proofing.REGISTRY,
    address: Mapping[str, Any] | None = None,
    commit: bool = True,
    password_hash: str | None = None,
) -> Citizen:
    """Create the one account for ``id_number``; its birth date and sex come from the number.

    ``address`` is the registry's address of household registration (OIDC Core 5.1.1
    members, checked by ``idp.models.address``). ``password_hash``: a password hashed
    earlier by ``methods.password.hash_password`` (self-registration hashes it before
    the SMS code step, so the password itself is never kept), instead of ``password``.

    Raises ``InvalidIdNumber`` for a malformed number and ``InvalidInput`` for a taken
    number or a bad name, phone, address, password or proofing value. With ``commit=False`` the
    caller owns the transaction (the row is flushed, not committed).
    """
    parsed = parse_id_number(number=id_number)
    try:
        level = Proofing(proofing)
    except ValueError:
        raise InvalidInput("Unknown identity-proofing level.", field="proofing") from None
    clean_name = normalise_name(name=name)
    clean_phone = normalise_phone(phone=phone) if phone else None
    clean_address = normalise_address(address)
    pw_hash = _hash_or_reject(password) if password is not None else password_hash

    kr = keyring()
    index = blind_index(kr, parsed.normalised)
    if _citizen_by_index(index) is not None:
        raise _taken()
    citizen_id = new_id()
    citizen = Citizen(
        id=citizen_id,
        id_type=parsed.id_type.value,
        id_number_enc=seal(kr, parsed.normalised, context=citizen_context(citizen_id)),
        id_number_index=index,
        name=clean_name,
        phone=clean_phone,
        birthdate=parsed.birthdate,
        gender=parsed.sex,
        proofing=level.value,
        address=clean_address,
    )
    db.session.add(citizen)
    if pw_hash is not None:
        db.session.add(PasswordCredential(citizen_id=citizen_id, hash=pw_hash))
    try:
        db.session.flush()
        if commit:
            db.session.commit()
    except IntegrityError:
        # Another process registered the same number between our check and our insert.
        db.session.rollback()
        raise _taken() from None
    return citizen


# Built once (the token endpoint runs it on every grant).
_LOCKED_AT = select(Citizen.locked_at).where(Citizen.id == bindparam("id"))


def is_active(citizen_id: str) -> bool:
    """True if the citizen exists and is not locked: one narrow select on the primary
    key, no ORM object (the token endpoint asks this on every grant)."""
    locked = db.session.connection().execute(_LOCKED_AT, {"id": citizen_id}).first()
    return locked is not None and locked[0] is None


def find_by_id_number(number: str) -> Citizen | None:
    """The citizen holding ``number`` in any accepted form; None if none or malformed."""
    try:
        parsed = parse_id_number(number=number)
    except InvalidIdNumber:
        return None
    return _citizen_by_index(blind_index(keyring(), parsed.normalised))


def id_number_of(citizen: Citizen) -> str:
    """The citizen's normalised ID number, decrypted. Never log or display it whole."""
    return unseal(keyring(), citizen.id_number_enc, context=citizen_context(citizen.id))


def registry_match(*, id_number: str, name: str) -> RegistryEntry | None:
    """The registry entry for ``id_number`` if the claimed real name matches it.

    For self-registration (population-registry proofing). One answer, None, whether the
    number is malformed, absent from the registry or registered under another name, so
    the check reveals nothing beyond "matched".
    """
    try:
        parsed = parse_id_number(number=id_number)
    except InvalidIdNumber:
        return None
    index = blind_index(keyring(), parsed.normalised)
    query = select(RegistryEntry).where(RegistryEntry.id_number_index == index)
    entry: RegistryEntry | None = db.session.scalar(query)
    if entry is None or not names_match(claimed=name, registered=entry.name):
        return None
    return entry


def _citizen_by_index(index: str) -> Citizen | None:
    return db.session.scalar(select(Citizen).where(Citizen.id_number_index == index))


def _hash_or_reject(password: str) -> str:
    try:
        return hash_password(password=password)
    except ValueError:
        raise InvalidInput("The password is empty or too long.", field="password") from None


def _taken() -> InvalidInput:
    return InvalidInput("An account already exists for this ID number.", field="id_number")
