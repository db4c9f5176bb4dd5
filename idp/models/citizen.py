"""Citizens (online accounts) and the population-registry extract they are checked against."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Date
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import validates

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow
from .address import normalise_address


class RegistryEntry(db.Model):  # type: ignore[name-defined,misc]
    """One person from a population-registry extract (``idp citizens import``).

    Self-registration checks the claimed real name against this table. The ID number is
    stored only encrypted (``id_number_enc``) and found through ``id_number_index``.
    """

    __tablename__ = "registry_entry"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    id_type: Mapped[str] = mapped_column(String(32))
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    birthdate: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(1))  # "M" / "F", from the number
    # The address of household registration, OIDC Core 5.1.1 members (idp.models.address).
    address: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("address")
    def _valid_address(self, key: str, value: Any) -> dict[str, str] | None:
        return normalise_address(value)


class Citizen(db.Model):  # type: ignore[name-defined,misc]
    """A citizen's account: one per ID number, however many channels and credentials."""

    __tablename__ = "citizen"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    id_type: Mapped[str] = mapped_column(String(32))
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    birthdate: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(1))
    # The registry's address of household registration (idp.models.address), copied at
    # registration and kept current by `idp citizens import`. Stored in clear like the
    # name and phone: personal, not sensitive, information (README "Privacy").
    address: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    # Identity proofing, recorded apart from login assurance: "registry" (name and number
    # matched the population registry), "in_person" (verified at a counter).
    proofing: Mapped[str] = mapped_column(String(32), default="registry")
    # Proof of possession of the phone (idp.authn.phone_verification): the number an SMS
    # code was sent to and entered correctly, and when it was first proved. It counts only
    # while it equals ``phone`` (OIDC ``phone_number_verified``); a new number drops it.
    verified_phone: Mapped[str | None] = mapped_column(String(32))
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("address")
    def _valid_address(self, key: str, value: Any) -> dict[str, str] | None:
        return normalise_address(value)

    @validates("phone")
    def _phone_changed(self, key: str, value: str | None) -> str | None:
        # A proof is of one number: every writer of a new number drops it, so it never
        # transfers, not even back to the old number later (it may have changed hands).
        if value != self.verified_phone:
            self.verified_phone = None
            self.phone_verified_at = None
        return value
