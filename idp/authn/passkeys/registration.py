"""Registering a credential (WebAuthn 3 section 7.1): creation options bound to the
account's SSO session, then the verified response stored under the citizen's name for it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import WebAuthnCredential
from ..methods import webauthn
from ..sessions import SsoSession
from .credentials import Passkey
from .credentials import clean_name
from .credentials import descriptors
from .credentials import rows
from .credentials import user_handle
from .credentials import view
from .errors import PasskeyAlreadyRegistered
from .errors import PasskeyExpired
from .errors import TooManyPasskeys
from .errors import refusal
from .policy import REGISTER
from .policy import Kind
from .policy import begin_ceremony
from .policy import consume_ceremony
from .policy import relying_party
from .policy import require_fresh
from .policy import ttl
from .policy import unb64

log = logging.getLogger(__name__)


def _limit() -> int:
    return int(current_app.config["IDP_WEBAUTHN_MAX_CREDENTIALS"])


def start_registration(
    *, session: SsoSession, kind: Kind, user_name: str, display_name: str
) -> dict[str, Any]:
    """Creation options for the session's citizen; the challenge is bound to the session.

    ``user_name`` / ``display_name`` are what the authenticator shows in its account
    picker: never the ID number in clear. Raises FreshSignInRequired, TooManyPasskeys.
    """
    require_fresh(session)
    return start_registration_for(
        citizen_id=session.citizen_id,
        binding=session.sid,
        kind=kind,
        user_name=user_name,
        display_name=display_name,
    )


def start_registration_for(
    *, citizen_id: str, binding: str, kind: Kind, user_name: str, display_name: str
) -> dict[str, Any]:
    """``start_registration`` for a caller that has established who the citizen is by
    other means (a one-time enrolment code issued at a service-hall counter,
    ``idp.authn.hall_passkeys``); the challenge is bound to ``binding``."""
    existing = rows(citizen_id)
    if len(existing) >= _limit():
        raise TooManyPasskeys(detail="credential limit reached")
    handle = user_handle(citizen_id, create=True)
    assert handle is not None
    passkey = kind == Kind.PASSKEY
    uv = webauthn.UserVerification.REQUIRED if passkey else webauthn.UserVerification.PREFERRED
    challenge = begin_ceremony(
        REGISTER,
        binding,
        {"citizen_id": citizen_id, "kind": str(kind), "require_uv": passkey},
    )
    return webauthn.registration_options(
        rp=relying_party(),
        user_handle=handle,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        exclude=descriptors(existing),
        resident_key=webauthn.ResidentKey.REQUIRED if passkey else webauthn.ResidentKey.DISCOURAGED,
        user_verification=uv,
        attestation=webauthn.Attestation(current_app.config["IDP_WEBAUTHN_ATTESTATION"]),
        timeout_ms=ttl() * 1000,
        security_key=not passkey,
    )


def finish_registration(
    *, session: SsoSession, response: Mapping[str, Any] | str, name: str
) -> Passkey:
    """Verify the creation response and store the credential under ``name``.

    Freshness was checked when the ceremony began; the ceremony itself is bound to this
    session and lives ``IDP_TTL_WEBAUTHN_CHALLENGE`` seconds, so a slow authenticator
    does not send the citizen to sign in again."""
    return finish_registration_for(
        citizen_id=session.citizen_id, binding=session.sid, response=response, name=name
    )


def finish_registration_for(
    *,
    citizen_id: str,
    binding: str,
    response: Mapping[str, Any] | str,
    name: str,
    bound_in_person: bool = False,
) -> Passkey:
    """``finish_registration`` for a ceremony begun by ``start_registration_for``;
    ``bound_in_person``: enrolled with a code from a service-hall counter."""
    label = clean_name(name)
    ceremony = consume_ceremony(REGISTER, binding)
    if ceremony.get("citizen_id") != citizen_id:
        raise PasskeyExpired(reason="ceremony_expired", detail="ceremony of another citizen")
    try:
        new = webauthn.verify_registration(
            rp=relying_party(),
            response=response,
            expected_challenge=unb64(str(ceremony["challenge"])),
            require_user_verification=bool(ceremony["require_uv"]),
        )
    except webauthn.RegistrationRejected as exc:
        log.info("WebAuthn registration refused for %s: %s", citizen_id, exc)
        raise refusal(exc) from exc
    if len(rows(citizen_id)) >= _limit():
        raise TooManyPasskeys(detail="credential limit reached")
    row = WebAuthnCredential(
        citizen_id=citizen_id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=list(new.transports),
        aaguid=new.aaguid,
        attestation_fmt=new.attestation_fmt,
        backup_eligible=new.backup_eligible,
        backed_up=new.backed_up,
        uv_initialized=new.user_verified,
        discoverable=ceremony.get("kind") == Kind.PASSKEY,
        name=label,
        bound_in_person=bound_in_person,
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError as exc:
        # WebAuthn 3 section 7.1 step 26: "Verify that the credentialId is not yet
        # registered for any user."
        db.session.rollback()
        raise PasskeyAlreadyRegistered(reason="duplicate", detail="credential id exists") from exc
    log.info(
        "citizen %s registered WebAuthn credential %s (aaguid %s, synced %s, uv %s)",
        citizen_id,
        row.id,
        new.aaguid,
        new.backup_eligible,
        new.user_verified,
    )
    return view(row)
