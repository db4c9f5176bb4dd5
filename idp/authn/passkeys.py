"""Passkeys and security keys: register, list, rename, remove, and sign in with them.

Service module over ``methods.webauthn`` (the py_webauthn wrapper): it reads no request,
takes the client address and the SSO session as arguments, and raises domain errors.

Policy, stated once:

- **Ceremonies.** Every challenge is 32 random bytes, single use and short-lived
  (``IDP_TTL_WEBAUTHN_CHALLENGE``), kept in the ephemeral store under what it is bound
  to: a sign-in to its interaction, a registration to the account's SSO session. A new
  ceremony for the same binding replaces the old one; verifying consumes it atomically
  (``EphemeralStore.consume``), whether the response then passes or not.
- **Kinds.** A *passkey* is created with ``residentKey: "required"`` and
  ``userVerification: "required"``: discoverable, so the citizen signs in without typing
  the ID number, and gated by the device's biometric or screen lock. A *security key* is
  created with ``residentKey: "discouraged"`` (no slot used on a hardware key) and
  ``userVerification: "preferred"``; it is offered when the citizen is already known (a
  password was accepted, or a signed-in session steps up).
- **User handle.** One opaque random 64-byte handle per citizen (``WebAuthnUser``), never
  the ID number; a discoverable response must carry it and it must be the owner's.
- **Assurance** (``assurance``): ``hwk`` for a device-bound credential (backup
  eligibility false), ``swk`` for a synced passkey (true), RFC 8176. With user
  verification the ceremony proved two factors: possession plus the device's biometric
  or PIN. It reaches **high** (methods ``hwk mfa``) only if the credential is
  device-bound (or ``IDP_WEBAUTHN_HIGH_ALLOW_SYNCED``: NIST SP 800-63B Supplement 1
  keeps synced keys at AAL2) and its authenticator model is on
  ``IDP_WEBAUTHN_HIGH_AAGUIDS`` (empty = any); otherwise **substantial**. Without user
  verification it is one possession factor: **low** alone, substantial with a password.
  A sign-in that must reach high asks for ``userVerification: "required"`` and refuses a
  response without the UV flag. With attestation "none" the AAGUID and the backup flags
  are what the authenticator says of itself: the allow-list keeps honest authenticators
  of unapproved models below high, it does not stop a forged one
  (``IDP_WEBAUTHN_ATTESTATION = "direct"`` records a verified attestation format).
- **Clones.** WebAuthn 3 section 7.2 step 22 leaves it to the RP what to do when the
  signature counter does not move forward. We refuse the sign-in, switch the credential
  off (``disabled_at``, reason ``clone_suspected``) and tell the citizen, who can sign in
  another way and remove it. A counter that stays 0 (synced passkeys keep none) is fine.
- **Limits.** Sign-in failures count against the client address (``ratelimit``, scope
  ``passkey``) and, once the credential is known, against that authenticator
  (``authenticator_limits``, key ``webauthn:<row id>``).
- **Fresh sign-in.** Adding or removing a credential needs a sign-in at most
  ``IDP_WEBAUTHN_FRESH_SIGN_IN`` seconds old (OWASP Authentication Cheat Sheet,
  "Reauthentication"): a stolen session cannot swap the citizen's authenticators.
"""

from __future__ import annotations

import base64
import hmac
import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ..errors import IdpError
from ..errors import InvalidInput
from ..extensions import db
from ..models import WebAuthnCredential
from ..models import WebAuthnUser
from ..models._types import utcnow
from ..store import current_store
from . import authenticator_limits
from . import ratelimit
from . import service
from .methods import webauthn
from .methods.webauthn import Reason
from .result import Acr
from .result import Amr
from .sessions import SsoSession

log = logging.getLogger(__name__)

KIND = "webauthn-ceremony"
REGISTER = "register"
SIGN_IN = "sign-in"
MAX_NAME_LENGTH = 64
CLONE_SUSPECTED = "clone_suspected"


class Kind(StrEnum):
    PASSKEY = "passkey"
    SECURITY_KEY = "security-key"


# --- errors (public text is shown as _(exc.public)) ----------------------------------------


class PasskeyRefused(IdpError):
    """A registration or sign-in response was refused; ``reason`` says why (logs, tests)."""

    public = "The passkey could not be verified. Try again, or sign in another way."

    def __init__(self, *, reason: str, detail: str = "") -> None:
        super().__init__(detail=detail or reason)
        self.reason = reason


class PasskeyExpired(PasskeyRefused):
    public = "This passkey request has expired or was already used. Start again."


class PasskeyWrongSiteRefused(PasskeyRefused):
    public = "This passkey response was not made for this site. Start again from this page."


class PasskeyNotRegistered(PasskeyRefused):
    public = (
        "This passkey is not registered with us. Sign in with your ID number and password, "
        "then add it on your account page."
    )


class PasskeyOfAnotherAccount(PasskeyRefused):
    public = "This passkey belongs to another account. Use one of your own passkeys."


class UserVerificationRequired(PasskeyRefused):
    public = (
        "Your device did not check that it is you (fingerprint, face or screen lock). "
        "This service needs that check: use a passkey that asks for it."
    )


class PasskeyDisabled(PasskeyRefused):
    public = "This passkey has been switched off. Sign in another way."


class PossibleClone(PasskeyDisabled):
    """The credential's signature counter went backwards: it may have been copied."""

    public = (
        "This passkey has been switched off because it may have been copied: its use "
        "counter went backwards. Sign in another way, remove it from your account and "
        "add it again. If you did not just try to sign in, contact the service hall."
    )


class PasskeyAlreadyRegistered(PasskeyRefused):
    public = "This passkey or security key is already registered to your account."


class TooManyPasskeys(IdpError):
    public = "You have registered the most passkeys allowed. Remove one to add another."


class FreshSignInRequired(IdpError):
    """The session's last sign-in is too old for adding or removing a credential."""

    public = "For your security, sign in again to change your passkeys."


class UnknownPasskey(IdpError):
    public = "That passkey was not found."


# --- what callers get back -----------------------------------------------------------------


@dataclass(frozen=True)
class Passkey:
    """One credential as the account page shows it."""

    id: str
    name: str
    synced: bool  # backup eligible: a passkey copied between the citizen's devices
    backed_up: bool
    discoverable: bool
    user_verifying: bool  # user verification at registration
    transports: tuple[str, ...]
    aaguid: str
    created_at: datetime
    last_used_at: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None


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


# --- configuration -------------------------------------------------------------------------


def relying_party() -> webauthn.RelyingParty:
    """RP ID and origin from config, defaulting to the issuer's host and origin."""
    cfg = current_app.config
    issuer = urlsplit(str(cfg["IDP_ISSUER"]))
    origin = cfg.get("IDP_WEBAUTHN_ORIGIN") or f"{issuer.scheme}://{issuer.netloc}"
    rp_id = cfg.get("IDP_WEBAUTHN_RP_ID") or issuer.hostname or ""
    return webauthn.RelyingParty(
        id=str(rp_id), name=str(cfg["IDP_WEBAUTHN_RP_NAME"]), origin=str(origin).rstrip("/")
    )


def _ttl() -> int:
    return int(current_app.config["IDP_TTL_WEBAUTHN_CHALLENGE"])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- assurance -----------------------------------------------------------------------------


def assurance(
    *, user_verified: bool, synced: bool, aaguid: str, with_password: bool
) -> tuple[tuple[Amr, ...], Acr]:
    """The methods and level one WebAuthn ceremony proves (see the module docstring).

    ``mfa`` joins the methods only when the credential is admitted to high: the core's
    level rules (``assurance.level_for``) read "a WebAuthn key with ``mfa``" as high,
    and they apply again when a step-up joins this proof to a session's earlier
    methods, so a model off the allow-list (or a synced passkey) must not carry it. The
    ``amr`` claim then still says ``mfa`` whenever a password was joined to the key.
    """
    key = Amr.SWK if synced else Amr.HWK
    methods: tuple[Amr, ...] = (Amr.PWD, key) if with_password else (key,)
    if user_verified and admitted_to_high(synced=synced, aaguid=aaguid):
        return methods + (Amr.MFA,), Acr.HIGH
    if user_verified or with_password:
        return methods, Acr.SUBSTANTIAL
    return methods, Acr.LOW


def admitted_to_high(*, synced: bool, aaguid: str) -> bool:
    """Policy for high, besides user verification: the authenticator model is on
    ``IDP_WEBAUTHN_HIGH_AAGUIDS`` (empty = any) and the key is device-bound unless
    ``IDP_WEBAUTHN_HIGH_ALLOW_SYNCED``."""
    cfg = current_app.config
    allowed = {str(a).lower() for a in cfg["IDP_WEBAUTHN_HIGH_AAGUIDS"]}
    model_ok = not allowed or aaguid.lower() in allowed
    return model_ok and (not synced or bool(cfg["IDP_WEBAUTHN_HIGH_ALLOW_SYNCED"]))


# --- freshness -----------------------------------------------------------------------------


def fresh_enough(session: SsoSession) -> bool:
    """The session proved itself within ``IDP_WEBAUTHN_FRESH_SIGN_IN`` seconds, at any
    level (``service.fresh_enough``): enough to change its credentials."""
    within = int(current_app.config["IDP_WEBAUTHN_FRESH_SIGN_IN"])
    return service.fresh_enough(session, within=within, acr=None)


def _require_fresh(session: SsoSession) -> None:
    if not fresh_enough(session):
        raise FreshSignInRequired(detail=f"sign-in of {session.citizen_id} too old")


# --- the citizen's credentials -------------------------------------------------------------


def _rows(citizen_id: str) -> list[WebAuthnCredential]:
    return list(
        db.session.scalars(
            select(WebAuthnCredential)
            .where(WebAuthnCredential.citizen_id == citizen_id)
            .order_by(WebAuthnCredential.created_at)
        )
    )


def _view(row: WebAuthnCredential) -> Passkey:
    return Passkey(
        id=row.id,
        name=row.name,
        synced=row.backup_eligible,
        backed_up=row.backed_up,
        discoverable=row.discoverable,
        user_verifying=row.uv_initialized,
        transports=tuple(row.transports or ()),
        aaguid=row.aaguid,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
    )


def list_passkeys(*, citizen_id: str) -> list[Passkey]:
    return [_view(row) for row in _rows(citizen_id)]


def has_passkeys(*, citizen_id: str) -> bool:
    """True when the citizen has a credential that can still sign in."""
    count = db.session.scalar(
        select(func.count())
        .select_from(WebAuthnCredential)
        .where(
            WebAuthnCredential.citizen_id == citizen_id,
            WebAuthnCredential.disabled_at.is_(None),
        )
    )
    return bool(count)


def _owned(citizen_id: str, passkey_id: str) -> WebAuthnCredential:
    row = db.session.get(WebAuthnCredential, passkey_id) if len(passkey_id) <= 36 else None
    if row is None or row.citizen_id != citizen_id:
        raise UnknownPasskey(detail="passkey not found for this citizen")
    return row


def clean_name(name: str) -> str:
    """A credential's name: 1 to 64 printable characters, spaces collapsed."""
    text = " ".join(unicodedata.normalize("NFC", name or "").split())
    if not text or len(text) > MAX_NAME_LENGTH:
        raise InvalidInput("The name must be 1 to 64 characters long.", field="name")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput("The name cannot contain control characters.", field="name")
    return text


def rename(*, citizen_id: str, passkey_id: str, name: str) -> Passkey:
    row = _owned(citizen_id, passkey_id)
    row.name = clean_name(name)
    db.session.commit()
    return _view(row)


def remove(*, session: SsoSession, passkey_id: str) -> Passkey:
    """Remove one of the session citizen's credentials. Raises FreshSignInRequired."""
    _require_fresh(session)
    row = _owned(session.citizen_id, passkey_id)
    removed = _view(row)
    db.session.delete(row)
    db.session.commit()
    log.info("citizen %s removed WebAuthn credential %s", session.citizen_id, passkey_id)
    return removed


def _user_handle(citizen_id: str, *, create: bool) -> bytes | None:
    user = db.session.get(WebAuthnUser, citizen_id)
    if user is not None or not create:
        return user.user_handle if user else None
    db.session.add(WebAuthnUser(citizen_id=citizen_id, user_handle=webauthn.new_user_handle()))
    try:
        db.session.commit()
    except IntegrityError:  # two first registrations at once: the other handle stands
        db.session.rollback()
    user = db.session.get(WebAuthnUser, citizen_id)
    assert user is not None
    return user.user_handle


def _descriptors(rows: list[WebAuthnCredential]) -> list[webauthn.Descriptor]:
    return [
        webauthn.Descriptor(credential_id=r.credential_id, transports=tuple(r.transports or ()))
        for r in rows
    ]


# --- ceremonies in the ephemeral store -----------------------------------------------------


def _begin(purpose: str, binding: str, record: dict[str, Any]) -> bytes:
    challenge = webauthn.new_challenge()
    current_store().put(
        KIND, f"{purpose}:{binding}", {**record, "challenge": _b64(challenge)}, _ttl()
    )
    return challenge


def _consume(purpose: str, binding: str) -> dict[str, Any]:
    record = current_store().consume(KIND, f"{purpose}:{binding}")
    if record is None:
        raise PasskeyExpired(reason="ceremony_expired", detail="no live challenge for binding")
    return record


# --- registration --------------------------------------------------------------------------


def start_registration(
    *, session: SsoSession, kind: Kind, user_name: str, display_name: str
) -> dict[str, Any]:
    """Creation options for the session's citizen; the challenge is bound to the session.

    ``user_name`` / ``display_name`` are what the authenticator shows in its account
    picker: never the ID number in clear. Raises FreshSignInRequired, TooManyPasskeys.
    """
    _require_fresh(session)
    rows = _rows(session.citizen_id)
    if len(rows) >= int(current_app.config["IDP_WEBAUTHN_MAX_CREDENTIALS"]):
        raise TooManyPasskeys(detail="credential limit reached")
    handle = _user_handle(session.citizen_id, create=True)
    assert handle is not None
    passkey = kind == Kind.PASSKEY
    uv = webauthn.UserVerification.REQUIRED if passkey else webauthn.UserVerification.PREFERRED
    challenge = _begin(
        REGISTER,
        session.sid,
        {"citizen_id": session.citizen_id, "kind": str(kind), "require_uv": passkey},
    )
    return webauthn.registration_options(
        rp=relying_party(),
        user_handle=handle,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        exclude=_descriptors(rows),
        resident_key=webauthn.ResidentKey.REQUIRED if passkey else webauthn.ResidentKey.DISCOURAGED,
        user_verification=uv,
        attestation=webauthn.Attestation(current_app.config["IDP_WEBAUTHN_ATTESTATION"]),
        timeout_ms=_ttl() * 1000,
        security_key=not passkey,
    )


def finish_registration(
    *, session: SsoSession, response: Mapping[str, Any] | str, name: str
) -> Passkey:
    """Verify the creation response and store the credential under ``name``."""
    label = clean_name(name)
    _require_fresh(session)
    ceremony = _consume(REGISTER, session.sid)
    if ceremony.get("citizen_id") != session.citizen_id:
        raise PasskeyExpired(reason="ceremony_expired", detail="ceremony of another citizen")
    try:
        new = webauthn.verify_registration(
            rp=relying_party(),
            response=response,
            expected_challenge=_unb64(str(ceremony["challenge"])),
            require_user_verification=bool(ceremony["require_uv"]),
        )
    except webauthn.RegistrationRejected as exc:
        log.info("WebAuthn registration refused for %s: %s", session.citizen_id, exc)
        raise _refusal(exc) from exc
    if len(_rows(session.citizen_id)) >= int(current_app.config["IDP_WEBAUTHN_MAX_CREDENTIALS"]):
        raise TooManyPasskeys(detail="credential limit reached")
    row = WebAuthnCredential(
        citizen_id=session.citizen_id,
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
        session.citizen_id,
        row.id,
        new.aaguid,
        new.backup_eligible,
        new.user_verified,
    )
    return _view(row)


# --- sign-in -------------------------------------------------------------------------------


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
        allow = _descriptors([r for r in _rows(citizen_id) if r.disabled_at is None])
    challenge = _begin(
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
        timeout_ms=_ttl() * 1000,
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
    PasskeyRefused (and subclasses), TooManyAttempts.
    """
    ceremony = _consume(SIGN_IN, interaction_uid)
    throttle = ratelimit.Throttle(
        current_store(), ratelimit.policy_from_config(current_app.config), scope="passkey"
    )
    attempt = throttle.begin(subject=None, ip=ip)
    try:
        claim = webauthn.read_assertion(response=response)
    except webauthn.AssertionRejected as exc:
        throttle.failed(attempt)
        raise _refusal(exc) from exc
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
    handle = _user_handle(row.citizen_id, create=False)
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
            expected_challenge=_unb64(str(ceremony["challenge"])),
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
        raise _refusal(exc) from exc
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


_REFUSALS: dict[Reason, type[PasskeyRefused]] = {
    Reason.ORIGIN_MISMATCH: PasskeyWrongSiteRefused,
    Reason.RP_ID_MISMATCH: PasskeyWrongSiteRefused,
    Reason.CHALLENGE_MISMATCH: PasskeyExpired,
    Reason.USER_NOT_VERIFIED: UserVerificationRequired,
}


def _refusal(exc: webauthn.WebAuthnRejected) -> PasskeyRefused:
    kind = _REFUSALS.get(exc.reason, PasskeyRefused)
    return kind(reason=str(exc.reason), detail=exc.detail)
