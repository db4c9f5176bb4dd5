"""Proof of possession of the phone on record: OIDC Core 5.1 ``phone_number_verified``.

https://openid.net/specs/openid-connect-core-1_0.html#StandardClaims: "When this Claim
Value is true, this means that the OP took affirmative steps to ensure that this phone
number was controlled by the End-User at the time the verification was performed."

Our affirmative step is an SMS code sent to the number and entered correctly (the code is
bound to the number it went to, ``idp.authn.sms.codes``): an SMS sign-in on the website or
read back to the hotline (``sms.signin.check_code``), a phone bound at the counter
(``hall.bind_phone``) and the registry's phone at self-registration
(``registration.finish``). ``record`` keeps the number and when it was first proved
(``Citizen.verified_phone`` / ``phone_verified_at``) with an ``account.phone_verified``
audit record; a later proof of the same number changes nothing (one write per number, not
one per sign-in).

A proof never transfers to another number: every ORM write of a new ``Citizen.phone``
drops it (the model's validator), and ``is_verified`` compares the two numbers, so a
writer outside the ORM cannot carry it over either.
"""

from __future__ import annotations

from enum import StrEnum

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..models import Citizen
from ..models._types import utcnow
from .citizens import mask_phone


class Via(StrEnum):
    """How the code reached the citizen (the audit record's ``via``)."""

    SMS_SIGN_IN = "sms_sign_in"  # website SMS sign-in, hotline read-back
    COUNTER = "counter"  # a phone bound at a service-hall counter
    REGISTRATION = "registration"  # self-registration, the registry's phone


def is_verified(*, phone: str | None, verified_phone: str | None) -> bool:
    """True only while the number on record is the one proved."""
    return bool(phone) and verified_phone == phone


def record(
    citizen: Citizen,
    *,
    phone: str,
    via: Via,
    actor_type: ActorType | None = None,
    actor_id: str | None = None,
    client_id: str | None = None,
    channel: str | None = None,
    commit: bool = True,
) -> bool:
    """``phone`` was proved: mark it verified if it is still the number on record.

    True if this is a new proof (stored and audited), False if the number was already
    verified or is no longer the citizen's (changed since the code went out). With
    ``commit=False`` the caller's transaction carries the change and its record.
    """
    if not phone or citizen.phone != phone or citizen.verified_phone == phone:
        return False
    citizen.verified_phone = phone
    citizen.phone_verified_at = utcnow()
    audit.record(
        EventType.PHONE_VERIFIED,
        actor_type=actor_type,
        actor_id=actor_id,
        citizen_id=citizen.id,
        client_id=client_id,
        channel=channel,
        # The masked number only: no phone numbers on the trail.
        details={"via": str(via), "phone": mask_phone(phone)},
        commit=commit,
    )
    return True
