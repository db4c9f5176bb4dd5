"""The licence store: a citizen's licences, and status changes by the issuing department.

Status (set by the department): ``valid`` -> ``suspended`` -> ``valid`` again, and
``revoked`` from either, for good (a revoked licence is never reinstated: the
department issues a new number). A ``valid`` licence past its ``expires_on`` date
(China Standard Time, as printed on the document) reads as ``expired``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import select

from ..errors import InvalidInput
from ..extensions import db
from ..ids.resident_id import today_in_china
from ..models import Citizen
from ..models import Licence
from ..models._types import utcnow
from .types import LICENCE_TYPES

MAX_REASON_LENGTH = 200


class Status(StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"  # read-only: a valid licence past its expiry date


# Stored status -> statuses a department may set next.
_TRANSITIONS: dict[str, tuple[Status, ...]] = {
    Status.VALID: (Status.SUSPENDED, Status.REVOKED),
    Status.SUSPENDED: (Status.VALID, Status.REVOKED),
    Status.REVOKED: (),
}


class LicenceNotFound(InvalidInput):
    """No licence of this type and number (for this department)."""


@dataclass(frozen=True)
class LicenceView:
    """A licence as a portal receives it (``licence_jws``) and a department sees it."""

    type: str
    number: str
    department: str
    issued_on: str
    expires_on: str | None
    status: str
    fields: dict[str, str]

    def as_claims(self) -> dict[str, object]:
        return {
            "type": self.type,
            "number": self.number,
            "issuer_department": self.department,
            "issued_on": self.issued_on,
            "expires_on": self.expires_on,
            "status": self.status,
            "fields": dict(self.fields),
        }


def effective_status(licence: Licence, today: date | None = None) -> Status:
    status = Status(licence.status)
    today = today or today_in_china()
    if status == Status.VALID and licence.expires_on is not None and licence.expires_on < today:
        return Status.EXPIRED
    return status


def view(licence: Licence, today: date | None = None) -> LicenceView:
    return LicenceView(
        type=licence.type,
        number=licence.number,
        department=licence.department,
        issued_on=licence.issued_on.isoformat(),
        expires_on=licence.expires_on.isoformat() if licence.expires_on else None,
        status=str(effective_status(licence, today)),
        fields={str(k): str(v) for k, v in (licence.fields or {}).items()},
    )


def for_citizen(citizen: Citizen, types: Iterable[str]) -> list[Licence]:
    """The citizen's licences of ``types`` (any status), by type then issue date."""
    wanted = [t for t in types if t in LICENCE_TYPES]
    if not wanted:
        return []
    query = (
        select(Licence)
        .where(Licence.holder_index == citizen.id_number_index, Licence.type.in_(wanted))
        .order_by(Licence.type, Licence.issued_on.desc(), Licence.number)
    )
    return list(db.session.scalars(query))


def find(*, type: str, number: str) -> Licence | None:
    if type not in LICENCE_TYPES or not isinstance(number, str) or len(number) > 64:
        return None
    return db.session.scalar(select(Licence).where(Licence.type == type, Licence.number == number))


def set_status(
    *, type: str, number: str, status: str, reason: str | None, department: str | None
) -> Licence:
    """Suspend, reinstate or revoke a licence. ``department`` None: an operator (any
    department); otherwise only that department's licences. Raises ``InvalidInput``
    (``LicenceNotFound`` for an unknown licence or another department's)."""
    try:
        wanted = Status(status)
    except ValueError:
        wanted = Status.EXPIRED  # refused below: not a status anyone sets
    if wanted == Status.EXPIRED:
        raise InvalidInput("The status must be valid, suspended or revoked.", field="status")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        raise InvalidInput("The reason must be text of at most 200 characters.", field="reason")
    licence = find(type=type, number=number)
    if licence is None or (department is not None and licence.department != department):
        raise LicenceNotFound("No such licence of your department.", field="number")
    if Status(licence.status) == wanted:
        return licence  # idempotent: setting the same status again changes nothing
    if wanted not in _TRANSITIONS[licence.status]:
        raise InvalidInput(f"A {licence.status} licence cannot become {wanted}.", field="status")
    licence.status = wanted.value
    licence.status_reason = (reason or "").strip() or None
    licence.status_changed_at = licence.updated_at = utcnow()
    db.session.commit()
    return licence
