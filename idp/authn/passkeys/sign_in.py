"""Signing in with a credential (WebAuthn 3 section 7.2): request options bound to an
interaction, then the verified assertion as the methods and level it proves."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update

from ...extensions import db
from ...models import WebAuthnCredential
from ...models._types import utcnow
from ...store import current_store
from .. import authenticator_limits
from .. import ratelimit
from ..events import record_failure
from ..events import record_lock
from ..methods import webauthn
from ..methods.webauthn import Reason
from ..result import Acr
from ..result import Amr
from .credentials import descriptors
from .credentials import rows
from .credentials import user_handle
from .errors import PasskeyDisabled
from .errors import PasskeyNotRegistered
from .errors import PasskeyOfAnotherAccount
from .errors import PasskeyRefused
from .errors import PossibleClone
from .errors import refusal
from .policy import SIGN_IN
from .policy import assurance
from .policy import begin_ceremony
from .policy import consume_ceremony
from .policy import relying_party
from .policy import ttl
from .policy import unb64

log = logging.getLogger(__name__)

CLONE_SUSPECTED = "clone_suspected"


@dataclass(frozen=True)
class PasskeySignIn:
    """A verified sign-in: who, with which credential, and what it proved."""

    citizen_id: str
    passkey_id: str
    methods: tuple[Amr, ...]
    acr: Acr
    user_verified: bool
    synced: bool
    aaguid: str


def start_sign_in(
    *, interaction_uid: str, citizen_id: str | None, require_user_verification: bool
) -> dict[str, Any]:
    """Request options for an interaction.

    ``citizen_id`` is the citizen already known to the interaction (a signed-in session
    stepping up, or a password just accepted): their usable credentials are listed in
    allowCredentials and only those are accepted. None = a discoverable sign-in: the
    authenticator chooses the account and returns its user handle.
    """
    allow: list[webauthn.Descriptor] = []
    if citizen_id is not None:
        allow = descriptors([r for r in rows(citizen_id) if r.disabled_at is None])
    challenge = begin_ceremony(
        SIGN_IN,
        interaction_uid,
        {"citizen_id": citizen_id, "require_uv": require_user_verification},
    )
    uv = webauthn.UserVerification
    return webauthn.authentication_options(
        rp=relying_party(),
        challenge=challenge,
        allow=allow,
        user_verification=uv.REQUIRED if require_user_verification else uv.PREFERRED,
        timeout_ms=ttl() * 1000,
    )


def finish_sign_in(
    *,
    interaction_uid: str,
    response: Mapping[str, Any] | str,
    ip: str,
    password_citizen_id: str | None = None,
) -> PasskeySignIn:
    """Verify a sign-in response for the interaction's ceremony.

    ``password_citizen_id``: the citizen whose password this interaction accepted (the
    passkey is then the second factor and the result includes ``pwd``). Raises
    PasskeyRefused (and subclasses), TooManyAttempts. Every refusal is audited.
    """
    try:
        return _finish_sign_in(
            interaction_uid=interaction_uid,
            response=response,
            ip=ip,
            password_citizen_id=password_citizen_id,
        )
    except PasskeyRefused as exc:
        record_failure(method=Amr.HWK, reason=exc.reason, citizen_id=password_citizen_id)
        raise


def _finish_sign_in(
    *,
    interaction_uid: str,
    response: Mapping[str, Any] | str,
    ip: str,
    password_citizen_id: str | None,
) -> PasskeySignIn:
    ceremony = consume_ceremony(SIGN_IN, interaction_uid)
    throttle = ratelimit.Throttle(
        current_store(),
        ratelimit.policy_from_config(current_app.config),
        scope="passkey",
        on_lock=record_lock,
    )
    attempt = throttle.begin(subject=None, ip=ip)
    try:
        claim = webauthn.read_assertion(response=response)
    except webauthn.AssertionRejected as exc:
        throttle.failed(attempt)
        raise refusal(exc) from exc
    row = db.session.scalar(
        select(WebAuthnCredential).where(WebAuthnCredential.credential_id == claim.credential_id)
    )
    if row is None:
        throttle.failed(attempt)
        raise PasskeyNotRegistered(reason="unknown_credential")
    known = ceremony.get("citizen_id") or password_citizen_id
    if known is not None and row.citizen_id != known:
        throttle.failed(attempt)
        raise PasskeyOfAnotherAccount(reason="other_citizen", detail=f"credential {row.id}")
    handle = user_handle(row.citizen_id, create=False)
    # WebAuthn 3 section 7.2 step 6: a response that names a user must name the owner;
    # with no user identified beforehand (discoverable), it must name one.
    if claim.user_handle is None and known is None:
        throttle.failed(attempt)
        raise PasskeyRefused(reason="no_user_handle", detail=f"credential {row.id}")
    if claim.user_handle is not None and (handle is None or not _same(claim.user_handle, handle)):
        throttle.failed(attempt)
        raise PasskeyRefused(reason="user_handle_mismatch", detail=f"credential {row.id}")
    if row.disabled_at is not None:
        kind = PossibleClone if row.disabled_reason == CLONE_SUSPECTED else PasskeyDisabled
        raise kind(reason=row.disabled_reason or "disabled", detail=f"credential {row.id}")
    authenticator = f"webauthn:{row.id}"
    # TooManyAttempts or AuthenticatorDisabled (NIST SP 800-63B 5.2.2), before verifying.
    authenticator_limits.before_attempt(authenticator=authenticator)
    try:
        verified = webauthn.verify_assertion(
            rp=relying_party(),
            response=response,
            expected_challenge=unb64(str(ceremony["challenge"])),
            public_key=row.public_key,
            stored_sign_count=row.sign_count,
            stored_backup_eligible=row.backup_eligible,
            require_user_verification=bool(ceremony["require_uv"]),
        )
    except webauthn.AssertionRejected as exc:
        if exc.reason == Reason.SIGN_COUNT_REGRESSED:
            _disable_as_clone(row, exc.detail)
            raise PossibleClone(reason=CLONE_SUSPECTED, detail=exc.detail) from exc
        throttle.failed(attempt)
        authenticator_limits.record_failure(authenticator=authenticator)
        log.info("WebAuthn sign-in refused (credential %s): %s", row.id, exc)
        raise refusal(exc) from exc
    if not _advance(row, verified):
        # Another sign-in moved the counter past this one in the meantime: the same
        # signal as a regression (two authenticators share the key).
        _disable_as_clone(row, f"sign count {verified.sign_count} lost a race")
        raise PossibleClone(reason=CLONE_SUSPECTED, detail="sign count raced")
    throttle.succeeded(attempt)
    authenticator_limits.record_success(authenticator=authenticator)
    methods, acr = assurance(
        user_verified=verified.user_verified,
        synced=row.backup_eligible,
        aaguid=row.aaguid,
        with_password=password_citizen_id is not None,
    )
    return PasskeySignIn(
        citizen_id=row.citizen_id,
        passkey_id=row.id,
        methods=methods,
        acr=acr,
        user_verified=verified.user_verified,
        synced=row.backup_eligible,
        aaguid=row.aaguid,
    )


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _advance(row: WebAuthnCredential, verified: webauthn.VerifiedAssertion) -> bool:
    """Store the new counter, backup state and last use. With a counter, the UPDATE is
    conditional on it still being below the new value, so two processes racing with
    responses from two copies of one key cannot both win."""
    values = {
        "sign_count": verified.sign_count,
        "backed_up": verified.backed_up,
        "last_used_at": utcnow(),
    }
    statement = update(WebAuthnCredential).where(WebAuthnCredential.id == row.id)
    if verified.sign_count > 0:
        statement = statement.where(WebAuthnCredential.sign_count < verified.sign_count)
    moved = db.session.execute(
        statement.values(**values).execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(row)
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def _disable_as_clone(row: WebAuthnCredential, detail: str) -> None:
    db.session.execute(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == row.id, WebAuthnCredential.disabled_at.is_(None))
        .values(disabled_at=utcnow(), disabled_reason=CLONE_SUSPECTED)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.warning(
        "WebAuthn credential %s of citizen %s switched off, possible clone: %s",
        row.id,
        row.citizen_id,
        detail,
    )
