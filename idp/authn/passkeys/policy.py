"""Configuration and policy of the passkey service: who we are to authenticators (RP ID,
origin), what a ceremony proves (``assurance``), when a session may change its
credentials (``fresh_enough``), and the single-use challenges in the ephemeral store."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from ...store import current_store
from .. import service
from ..methods import webauthn
from ..result import Acr
from ..result import Amr
from ..sessions import SsoSession
from . import allowlist
from .errors import FreshSignInRequired
from .errors import PasskeyExpired

KIND = "webauthn-ceremony"  # ephemeral-store kind of a ceremony
REGISTER = "register"
SIGN_IN = "sign-in"


class Kind(StrEnum):
    PASSKEY = "passkey"
    SECURITY_KEY = "security-key"


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


def ttl() -> int:
    return int(current_app.config["IDP_TTL_WEBAUTHN_CHALLENGE"])


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
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
    """Policy for high, besides user verification: the key is device-bound unless
    ``IDP_WEBAUTHN_HIGH_ALLOW_SYNCED``, and the authenticator model is on the allow-list
    (``allowlist.effective``: the console's table and ``IDP_WEBAUTHN_HIGH_AAGUIDS``;
    both empty = any)."""
    if synced and not current_app.config["IDP_WEBAUTHN_HIGH_ALLOW_SYNCED"]:
        return False  # decided without reading the list
    allowed = allowlist.effective()
    return not allowed or aaguid.lower() in allowed


# --- freshness -----------------------------------------------------------------------------


def fresh_enough(session: SsoSession) -> bool:
    """The session proved itself within ``IDP_WEBAUTHN_FRESH_SIGN_IN`` seconds, at any
    level (``service.fresh_enough``): enough to change its credentials."""
    within = int(current_app.config["IDP_WEBAUTHN_FRESH_SIGN_IN"])
    return service.fresh_enough(session, within=within, acr=None)


def require_fresh(session: SsoSession) -> None:
    if not fresh_enough(session):
        raise FreshSignInRequired(detail=f"sign-in of {session.citizen_id} too old")


# --- ceremonies in the ephemeral store -----------------------------------------------------


def begin_ceremony(purpose: str, binding: str, record: dict[str, Any]) -> bytes:
    challenge = webauthn.new_challenge()
    current_store().put(
        KIND, f"{purpose}:{binding}", {**record, "challenge": b64(challenge)}, ttl()
    )
    return challenge


def consume_ceremony(purpose: str, binding: str) -> dict[str, Any]:
    record = current_store().consume(KIND, f"{purpose}:{binding}")
    if record is None:
        raise PasskeyExpired(reason="ceremony_expired", detail="no live challenge for binding")
    return record
