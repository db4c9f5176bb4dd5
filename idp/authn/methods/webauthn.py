"""WebAuthn (W3C Web Authentication Level 3, https://www.w3.org/TR/webauthn-3/) behind one
module of ours: py_webauthn.

No other module imports ``webauthn``. Arguments are keyword-only, results are our own
frozen dataclasses, refusals are our own ``RegistrationRejected`` / ``AssertionRejected``
carrying a ``Reason``. Policy is stated by the caller on every use, never defaulted in
here: ``require_user_verification`` (True whenever the result may count as a biometric or
PIN-gated factor), the residentKey requirement, the attestation preference.

Checks made here, in the order of the ceremonies (sections 7.1 and 7.2):

- ``clientDataJSON.type`` is ``webauthn.create`` / ``webauthn.get`` (7.1 step 7, 7.2 step 11);
- its challenge is the one we issued (step 8 / 12); the caller keeps challenges single-use;
- its origin is exactly the expected origin (step 9 / 13), and ``crossOrigin`` is not
  true: our pages refuse to be framed (CSP frame-ancestors 'none'), so a ceremony run
  inside a frame is not ours (step 10 / 14);
- ``rpIdHash`` is SHA-256 of our RP ID (step 13 / 15);
- the UP flag is set (step 14 / 16) and, when required, the UV flag (step 15 / 17);
- BS is never set without BE (6.1.3); on assertions BE matches the stored credential
  (7.2 step 19: "If credentialRecord.backupEligible is set, verify that currentBe is set");
- then py_webauthn verifies the attestation (registration) or the signature (assertion);
- the signature counter (7.2 step 22), checked *after* the signature: "If
  authData.signCount is nonzero or credentialRecord.signCount is nonzero, ... If
  authData.signCount is less than or equal to credentialRecord.signCount: This is a
  signal that the authenticator may be cloned". py_webauthn makes this check before the
  signature, where a forged response could trip it; so we hand it a stored count of 0
  (which turns its check off) and make the check ourselves once the signature holds,
  reporting it as ``Reason.SIGN_COUNT_REGRESSED`` for the caller to act on.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from webauthn import generate_authentication_options
from webauthn import generate_registration_options
from webauthn import verify_authentication_response
from webauthn import verify_registration_response
from webauthn.helpers import options_to_json_dict
from webauthn.helpers import parse_attestation_object
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers import parse_authenticator_data
from webauthn.helpers import parse_client_data_json
from webauthn.helpers import parse_registration_credential_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AttestationConveyancePreference
from webauthn.helpers.structs import AuthenticationCredential
from webauthn.helpers.structs import AuthenticatorData
from webauthn.helpers.structs import AuthenticatorSelectionCriteria
from webauthn.helpers.structs import AuthenticatorTransport
from webauthn.helpers.structs import CollectedClientData
from webauthn.helpers.structs import PublicKeyCredentialDescriptor
from webauthn.helpers.structs import PublicKeyCredentialHint
from webauthn.helpers.structs import RegistrationCredential
from webauthn.helpers.structs import ResidentKeyRequirement
from webauthn.helpers.structs import UserVerificationRequirement

# WebAuthn 3 section 5.4.3: "pubKeyCredParams ... in order of most preferred to least";
# section 5.8.5 lists EdDSA (-8), ES256 (-7) and RS256 (-257) as the ones to support.
ALGORITHMS = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
# 13.4.3: "challenges SHOULD therefore be at least 16 bytes long"; we use 32.
CHALLENGE_BYTES = 32
# 14.6.1: "It is RECOMMENDED to let the user handle be 64 random bytes".
USER_HANDLE_BYTES = 64
# 5.1: a credential id is at most 1023 bytes; larger responses are refused unparsed.
MAX_CREDENTIAL_ID = 1023
MAX_RESPONSE_CHARS = 64 * 1024


class UserVerification(StrEnum):
    """``userVerification`` (5.8.6)."""

    REQUIRED = "required"
    PREFERRED = "preferred"
    DISCOURAGED = "discouraged"


class ResidentKey(StrEnum):
    """``residentKey`` (5.4.6): "required" makes a discoverable credential (a passkey)."""

    REQUIRED = "required"
    PREFERRED = "preferred"
    DISCOURAGED = "discouraged"


class Attestation(StrEnum):
    """``attestation`` conveyance (5.4.7). "none" by default: no authenticator
    fingerprinting, no certificate chains to maintain."""

    NONE = "none"
    DIRECT = "direct"


class Reason(StrEnum):
    """Why a response was refused (for logs, tests and the caller's choice of message)."""

    MALFORMED = "malformed"
    WRONG_TYPE = "wrong_type"
    CHALLENGE_MISMATCH = "challenge_mismatch"
    ORIGIN_MISMATCH = "origin_mismatch"
    RP_ID_MISMATCH = "rp_id_mismatch"
    USER_NOT_PRESENT = "user_not_present"
    USER_NOT_VERIFIED = "user_not_verified"
    BACKUP_FLAGS = "backup_flags"
    BAD_SIGNATURE = "bad_signature"
    SIGN_COUNT_REGRESSED = "sign_count_regressed"
    INVALID = "invalid"  # any other refusal by py_webauthn (attestation, algorithm ...)


class WebAuthnRejected(Exception):
    """A response failed verification. ``detail`` is for logs; it holds no secrets."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class RegistrationRejected(WebAuthnRejected):
    """``navigator.credentials.create()`` response refused."""


class AssertionRejected(WebAuthnRejected):
    """``navigator.credentials.get()`` response refused."""


@dataclass(frozen=True)
class RelyingParty:
    """Who we are to the authenticator: RP ID (a registrable domain), display name,
    and the one origin our ceremonies run on."""

    id: str
    name: str
    origin: str


@dataclass(frozen=True)
class Descriptor:
    """A credential named in ``excludeCredentials`` / ``allowCredentials``."""

    credential_id: bytes
    transports: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewCredential:
    """A verified registration: the credential record to store (section 4)."""

    credential_id: bytes
    public_key: bytes  # COSE_Key
    sign_count: int
    aaguid: str
    attestation_fmt: str
    transports: tuple[str, ...]
    user_verified: bool
    backup_eligible: bool
    backed_up: bool


@dataclass(frozen=True)
class AssertionClaim:
    """What a sign-in response says about itself before it is verified: which
    credential, and (for discoverable credentials) which user handle."""

    credential_id: bytes
    user_handle: bytes | None


@dataclass(frozen=True)
class VerifiedAssertion:
    credential_id: bytes
    sign_count: int
    user_verified: bool
    backup_eligible: bool
    backed_up: bool


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def new_user_handle() -> bytes:
    return secrets.token_bytes(USER_HANDLE_BYTES)


def _descriptors(credentials: Sequence[Descriptor]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=c.credential_id,
            transports=[AuthenticatorTransport(t) for t in c.transports if t in known] or None,
        )
        for c in credentials
    ]


# --- registration (navigator.credentials.create) ----------------------------------------


def registration_options(
    *,
    rp: RelyingParty,
    user_handle: bytes,
    user_name: str,
    user_display_name: str,
    challenge: bytes,
    exclude: Sequence[Descriptor],
    resident_key: ResidentKey,
    user_verification: UserVerification,
    attestation: Attestation,
    timeout_ms: int,
    security_key: bool = False,
) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` as JSON for the browser (binary values in
    base64url, as ``PublicKeyCredential.parseCreationOptionsFromJSON`` expects).

    ``exclude`` lists the citizen's existing credentials, so one authenticator is not
    registered twice (5.4: excludeCredentials). ``security_key`` adds the
    "security-key" hint (5.8.7) for a roaming authenticator.
    """
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=user_display_name,
        challenge=challenge,
        timeout=timeout_ms,
        attestation=AttestationConveyancePreference(attestation.value),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement(resident_key.value),
            user_verification=UserVerificationRequirement(user_verification.value),
        ),
        exclude_credentials=_descriptors(exclude),
        supported_pub_key_algs=list(ALGORITHMS),
        hints=[PublicKeyCredentialHint.SECURITY_KEY] if security_key else None,
    )
    return options_to_json_dict(options)


def verify_registration(
    *,
    rp: RelyingParty,
    response: Mapping[str, Any] | str,
    expected_challenge: bytes,
    require_user_verification: bool,
) -> NewCredential:
    """Verify a registration response (7.1). Raises ``RegistrationRejected``."""
    try:
        credential = parse_registration_credential_json(_as_json(response))
        attestation = parse_attestation_object(credential.response.attestation_object)
        client_data = parse_client_data_json(credential.response.client_data_json)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise RegistrationRejected(Reason.MALFORMED, str(exc)[:200]) from exc
    _check_ceremony(
        RegistrationRejected,
        client_data=client_data,
        auth_data=attestation.auth_data,
        ceremony="webauthn.create",
        rp=rp,
        expected_challenge=expected_challenge,
        require_user_verification=require_user_verification,
    )
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_presence=True,
            require_user_verification=require_user_verification,
            supported_pub_key_algs=list(ALGORITHMS),
        )
    except WebAuthnException as exc:
        raise RegistrationRejected(Reason.INVALID, str(exc)[:200]) from exc
    if len(verified.credential_id) > MAX_CREDENTIAL_ID:
        raise RegistrationRejected(Reason.MALFORMED, "credential id longer than 1023 bytes")
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        attestation_fmt=str(getattr(verified.fmt, "value", verified.fmt)),
        transports=_transports(credential),
        user_verified=verified.user_verified,
        backup_eligible=attestation.auth_data.flags.be,
        backed_up=attestation.auth_data.flags.bs,
    )


def _transports(credential: RegistrationCredential) -> tuple[str, ...]:
    # 5.2.1.2 getTransports(): hints for later allowCredentials, not security relevant.
    return tuple(t.value for t in credential.response.transports or ())[:8]


# --- authentication (navigator.credentials.get) ------------------------------------------


def authentication_options(
    *,
    rp: RelyingParty,
    challenge: bytes,
    allow: Sequence[Descriptor],
    user_verification: UserVerification,
    timeout_ms: int,
) -> dict[str, Any]:
    """``PublicKeyCredentialRequestOptions`` as JSON. An empty ``allow`` asks for a
    discoverable credential: the authenticator offers the citizen's passkeys for our RP
    ID and returns the user handle, so no ID number is typed (5.5, allowCredentials)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=timeout_ms,
        allow_credentials=_descriptors(allow),
        user_verification=UserVerificationRequirement(user_verification.value),
    )
    return options_to_json_dict(options)


def read_assertion(*, response: Mapping[str, Any] | str) -> AssertionClaim:
    """The credential id and user handle a sign-in response claims, so the caller can
    look up the stored public key. Nothing here is verified yet."""
    credential = _parse_assertion(response)
    if not credential.raw_id or len(credential.raw_id) > MAX_CREDENTIAL_ID:
        raise AssertionRejected(Reason.MALFORMED, "credential id missing or too long")
    handle = credential.response.user_handle
    return AssertionClaim(credential_id=credential.raw_id, user_handle=handle or None)


def verify_assertion(
    *,
    rp: RelyingParty,
    response: Mapping[str, Any] | str,
    expected_challenge: bytes,
    public_key: bytes,
    stored_sign_count: int,
    stored_backup_eligible: bool,
    require_user_verification: bool,
) -> VerifiedAssertion:
    """Verify a sign-in response against the stored credential record (7.2).

    Raises ``AssertionRejected``; ``Reason.SIGN_COUNT_REGRESSED`` only for a response
    whose signature is valid (a possible clone of the authenticator).
    """
    credential = _parse_assertion(response)
    try:
        client_data = parse_client_data_json(credential.response.client_data_json)
        auth_data = parse_authenticator_data(credential.response.authenticator_data)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise AssertionRejected(Reason.MALFORMED, str(exc)[:200]) from exc
    _check_ceremony(
        AssertionRejected,
        client_data=client_data,
        auth_data=auth_data,
        ceremony="webauthn.get",
        rp=rp,
        expected_challenge=expected_challenge,
        require_user_verification=require_user_verification,
    )
    if auth_data.flags.be != stored_backup_eligible:
        raise AssertionRejected(Reason.BACKUP_FLAGS, "backup eligibility changed")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=0,  # our own check follows, after the signature
            require_user_verification=require_user_verification,
        )
    except WebAuthnException as exc:
        message = str(exc)
        reason = Reason.BAD_SIGNATURE if "signature" in message.lower() else Reason.INVALID
        raise AssertionRejected(reason, message[:200]) from exc
    new = verified.new_sign_count
    if (new > 0 or stored_sign_count > 0) and new <= stored_sign_count:
        raise AssertionRejected(
            Reason.SIGN_COUNT_REGRESSED, f"sign count {new} after {stored_sign_count}"
        )
    return VerifiedAssertion(
        credential_id=verified.credential_id,
        sign_count=new,
        user_verified=verified.user_verified,
        backup_eligible=auth_data.flags.be,
        backed_up=verified.credential_backed_up,
    )


# --- shared checks --------------------------------------------------------------------------


def _as_json(response: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(response, str):
        if len(response) > MAX_RESPONSE_CHARS:
            raise ValueError("response too large")
        loaded = json.loads(response)
    else:
        loaded = dict(response)
    if not isinstance(loaded, dict):
        raise ValueError("response is not a JSON object")
    return loaded


def _parse_assertion(response: Mapping[str, Any] | str) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(_as_json(response))
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise AssertionRejected(Reason.MALFORMED, str(exc)[:200]) from exc


def _check_ceremony(
    error: type[WebAuthnRejected],
    *,
    client_data: CollectedClientData,
    auth_data: AuthenticatorData,
    ceremony: str,
    rp: RelyingParty,
    expected_challenge: bytes,
    require_user_verification: bool,
) -> None:
    """The checks py_webauthn also makes, made first so each refusal has its reason."""
    if client_data.type != ceremony:
        raise error(Reason.WRONG_TYPE, f"clientDataJSON.type {str(client_data.type)[:32]!r}")
    if not secrets.compare_digest(client_data.challenge, expected_challenge):
        raise error(Reason.CHALLENGE_MISMATCH, "not the challenge of this ceremony")
    if client_data.origin != rp.origin:
        raise error(Reason.ORIGIN_MISMATCH, f"origin {client_data.origin[:100]!r}")
    if client_data.cross_origin:
        raise error(Reason.ORIGIN_MISMATCH, "ceremony ran in a cross-origin frame")
    if not secrets.compare_digest(auth_data.rp_id_hash, hashlib.sha256(rp.id.encode()).digest()):
        raise error(Reason.RP_ID_MISMATCH, "rpIdHash is not for our RP ID")
    if not auth_data.flags.up:
        raise error(Reason.USER_NOT_PRESENT, "UP flag not set")
    if require_user_verification and not auth_data.flags.uv:
        raise error(Reason.USER_NOT_VERIFIED, "UV flag not set")
    if auth_data.flags.bs and not auth_data.flags.be:
        raise error(Reason.BACKUP_FLAGS, "BS set without BE")
