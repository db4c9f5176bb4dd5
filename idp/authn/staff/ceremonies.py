"""WebAuthn for staff (W3C Web Authentication Level 3): enrolment, sign-in and the
re-verification that dangerous actions need.

Policy, stated once: user verification is **required** in every ceremony (the key's
biometric or PIN: a stolen key alone opens nothing); enrolment creates a discoverable
credential (``residentKey: "required"``) so sign-in needs no username; challenges are
single use, live ``IDP_TTL_WEBAUTHN_CHALLENGE`` seconds and are bound to what started
them (a browser, or a console session). Verification goes through
``idp.authn.methods.webauthn`` (py_webauthn), the same checks citizens' passkeys get,
with the signature-counter check of WebAuthn 3 section 7.2 step 22: a counter going
backwards refuses the sign-in and switches the credential off.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Staff
from ...models import StaffCredential
from ...store import current_store
from ..methods import webauthn
from ..passkeys.policy import relying_party
from . import accounts
from .errors import EnrolmentRefused
from .errors import SignInRefused
from .errors import VerificationExpired

log = logging.getLogger(__name__)

KIND = "staff-webauthn"
ENROL = "enrol"
SIGN_IN = "sign-in"
VERIFY = "verify"
MAX_NAME = 64


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _ttl() -> int:
    return int(current_app.config["IDP_TTL_WEBAUTHN_CHALLENGE"])


def _begin(purpose: str, binding: str, record: dict[str, Any]) -> bytes:
    challenge = webauthn.new_challenge()
    current_store().put(
        KIND, f"{purpose}:{binding}", {**record, "challenge": _b64(challenge)}, _ttl()
    )
    return challenge


def _consume(purpose: str, binding: str) -> dict[str, Any]:
    record = current_store().consume(KIND, f"{purpose}:{binding}")
    if record is None:
        raise VerificationExpired(detail=f"no live {purpose} ceremony")
    return record


def _descriptors(rows: list[StaffCredential]) -> list[webauthn.Descriptor]:
    return [
        webauthn.Descriptor(
            credential_id=bytes(r.credential_id), transports=tuple(r.transports or ())
        )
        for r in rows
        if r.disabled_at is None
    ]


# --- enrolment (7.1) ---------------------------------------------------------------------


def start_enrolment(*, staff: Staff, binding: str) -> dict[str, Any]:
    """Creation options for a staff member whose enrolment code was accepted."""
    if not staff.enrolment_hash:
        raise EnrolmentRefused(detail="no live enrolment code")
    challenge = _begin(ENROL, binding, {"staff_id": staff.id, "code": staff.enrolment_hash})
    return webauthn.registration_options(
        rp=relying_party(),
        user_handle=bytes(staff.user_handle),
        user_name=staff.username,
        user_display_name=staff.display_name,
        challenge=challenge,
        exclude=_descriptors(accounts.credentials(staff.id)),
        resident_key=webauthn.ResidentKey.REQUIRED,
        user_verification=webauthn.UserVerification.REQUIRED,
        attestation=webauthn.Attestation(current_app.config["IDP_WEBAUTHN_ATTESTATION"]),
        timeout_ms=_ttl() * 1000,
    )


def finish_enrolment(
    *, binding: str, response: Mapping[str, Any] | str, name: str
) -> tuple[Staff, StaffCredential]:
    """Verify the creation response, store the credential and spend the enrolment code."""
    ceremony = _consume(ENROL, binding)
    staff = accounts.get(str(ceremony.get("staff_id") or ""))
    # The code must still be the one accepted (a new code or a used one voids the ceremony).
    if (
        staff is None
        or staff.disabled_at is not None
        or staff.enrolment_hash != ceremony.get("code")
    ):
        raise EnrolmentRefused(detail="enrolment code spent or replaced during the ceremony")
    try:
        new = webauthn.verify_registration(
            rp=relying_party(),
            response=response,
            expected_challenge=_unb64(str(ceremony["challenge"])),
            require_user_verification=True,
        )
    except webauthn.RegistrationRejected as exc:
        log.info("staff %s enrolment refused: %s", staff.id, exc.reason)
        raise SignInRefused(detail=str(exc.reason)) from exc
    label = " ".join(str(name or "").split())[:MAX_NAME] or "Security key"
    row = StaffCredential(
        staff_id=staff.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=list(new.transports),
        aaguid=new.aaguid,
        backup_eligible=new.backup_eligible,
        name=label,
    )
    db.session.add(row)
    accounts.spend_enrolment(staff)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SignInRefused(detail="credential id already registered") from None
    return staff, row


# --- sign-in and re-verification (7.2) -----------------------------------------------------


def start_sign_in(*, binding: str) -> dict[str, Any]:
    """Request options for a discoverable credential: the key names its owner."""
    challenge = _begin(SIGN_IN, binding, {})
    return webauthn.authentication_options(
        rp=relying_party(),
        challenge=challenge,
        allow=[],
        user_verification=webauthn.UserVerification.REQUIRED,
        timeout_ms=_ttl() * 1000,
    )


def start_verification(*, staff_id: str, binding: str) -> dict[str, Any]:
    """Request options naming the member's own credentials (re-verification)."""
    challenge = _begin(VERIFY, binding, {"staff_id": staff_id})
    return webauthn.authentication_options(
        rp=relying_party(),
        challenge=challenge,
        allow=_descriptors(accounts.credentials(staff_id)),
        user_verification=webauthn.UserVerification.REQUIRED,
        timeout_ms=_ttl() * 1000,
    )


def finish_sign_in(*, binding: str, response: Mapping[str, Any] | str) -> Staff:
    ceremony = _consume(SIGN_IN, binding)
    return _verify(ceremony, response, expected_staff=None)


def finish_verification(*, staff_id: str, binding: str, response: Mapping[str, Any] | str) -> Staff:
    ceremony = _consume(VERIFY, binding)
    if ceremony.get("staff_id") != staff_id:
        raise VerificationExpired(detail="verification ceremony of another member")
    return _verify(ceremony, response, expected_staff=staff_id)


def _verify(
    ceremony: dict[str, Any], response: Mapping[str, Any] | str, *, expected_staff: str | None
) -> Staff:
    try:
        claim = webauthn.read_assertion(response=response)
    except webauthn.AssertionRejected as exc:
        raise SignInRefused(detail=str(exc.reason)) from exc
    row = db.session.scalar(
        select(StaffCredential).where(StaffCredential.credential_id == claim.credential_id)
    )
    if row is None or row.disabled_at is not None:
        raise SignInRefused(detail="unknown or disabled staff credential")
    staff = db.session.get(Staff, row.staff_id)
    if staff is None or (expected_staff is not None and staff.id != expected_staff):
        raise SignInRefused(detail="credential of another member")
    # WebAuthn 3 section 7.2 step 6: a returned user handle must be the owner's.
    if claim.user_handle is not None and claim.user_handle != bytes(staff.user_handle):
        raise SignInRefused(detail="user handle does not match the credential's owner")
    try:
        verified = webauthn.verify_assertion(
            rp=relying_party(),
            response=response,
            expected_challenge=_unb64(str(ceremony["challenge"])),
            public_key=bytes(row.public_key),
            stored_sign_count=int(row.sign_count or 0),
            stored_backup_eligible=bool(row.backup_eligible),
            require_user_verification=True,
        )
    except webauthn.AssertionRejected as exc:
        if exc.reason == webauthn.Reason.SIGN_COUNT_REGRESSED:
            row.disabled_at = datetime.now(UTC)
            db.session.commit()
            log.warning("staff credential %s switched off: possible clone", row.id)
        raise SignInRefused(detail=str(exc.reason)) from exc
    if staff.disabled_at is not None:
        raise SignInRefused(detail=f"staff {staff.id} is disabled")
    row.sign_count = verified.sign_count
    row.last_used_at = datetime.now(UTC)
    db.session.commit()
    return staff
