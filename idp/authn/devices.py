"""The mobile app's bound devices: binding, the list, removal, and signed requests.

How the app proves itself (README "Mobile app"):

1. **Sign in once** through the ordinary OIDC code flow as a native public client (RFC
   8252: PKCE, claimed https or loopback redirect; ``idp clients create --native``).
2. **Bind a device key** (``bind``): the app makes an ES256 key pair that the phone
   keeps behind its biometric, and posts a *binding proof*: a JWT signed with that key,
   header ``{"typ": "app-binding+jwt", "alg": "ES256", "jwk": <public key>}``, claims
   ``aud`` (the issuer), ``iat``, ``jti``, ``ath`` (base64url SHA-256 of the access
   token, as RFC 9449 section 4.2 binds a DPoP proof to a token), ``name`` and
   ``platform``, with the access token as ``Authorization: Bearer``. The token must
   be from a first-party native client and no older than ``IDP_APP_BIND_MAX_AGE``.
   NIST SP 800-63B 6.1.2.1: the device never yields more than the level of that
   sign-in (``bound_acr``): a password sign-in cannot mint a high authenticator.
3. **Sign every later call** with the device key (``authenticate_request``):
   ``Authorization: Device <JWT>``, header ``{"typ": "app-request+jwt", "alg":
   "ES256", "kid": <device id>}``, claims ``aud``, ``htm``, ``htu`` (RFC 9449 4.2:
   method and URL without query), ``iat`` (within ``IDP_APP_SIGNATURE_LEEWAY``
   seconds), ``jti`` (single use) and ``bdy`` (base64url SHA-256 of the body, empty for
   GET), so the signature covers the decision it carries.

Levels of an approval (``approval_proof``, README assurance table): the app states
whether its key was unlocked by user verification and how (``uvm``): a biometric
(``fpt``, ``face``) gives ``swk fpt|face``: **high**; the device passcode gives ``swk
pin``: **substantial**; no user verification gives ``swk``: **low** (one possession
factor); never above ``bound_acr``. The key is reported as ``swk``: the server cannot
tell (without platform key attestation) that it lives in secure hardware.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..errors import IdpError
from ..errors import InvalidInput
from ..extensions import db
from ..models import DeviceKey
from ..store import current_store
from . import authenticators
from .assurance import level_for
from .authenticators import Capability
from .methods import app_signature
from .methods.app_signature import BadSignature
from .result import Acr
from .result import Amr
from .result import Channel

BINDING_TYP = "app-binding+jwt"
REQUEST_TYP = "app-request+jwt"
SCHEME = "Device"
REPLAY = "app-jti"
MAX_NAME_LENGTH = 64
PLATFORMS = ("ios", "android", "harmonyos", "other")
APP = "app"  # authenticators kind
# RFC 8176 methods by the app's user-verification method.
BIOMETRIC_METHODS = {"fpt": Amr.FPT, "face": Amr.FACE}
UV_METHODS = (*BIOMETRIC_METHODS, "pin")


class DeviceRefused(IdpError):
    """A binding or a signed request was refused; ``error`` is the wire code."""

    error = "invalid_request"
    status = 400

    def __init__(self, public: str | None = None, *, detail: str = "") -> None:
        super().__init__(public, detail=detail)


class InvalidAppToken(DeviceRefused):
    error = "invalid_token"  # RFC 6750 section 3.1
    status = 401
    public = "The access token is not valid for binding a device."


class InvalidDeviceSignature(DeviceRefused):
    error = "invalid_signature"
    status = 401
    public = "The device signature is not valid."


class TooManyDevices(DeviceRefused):
    error = "too_many_devices"
    status = 409
    public = "Too many devices are bound to this account. Remove one first."


@dataclass(frozen=True)
class AppToken:
    """The access token the app signed in with, as ``bind`` needs it."""

    citizen_id: str
    client_id: str
    acr: str | None
    auth_time: int | None
    native_first_party: bool


# Set by the web layer (``idp.web.app_tokens``): access token string -> AppToken or None.
TokenResolver = Callable[[str], AppToken | None]
RESOLVER = "idp.app_token_resolver"


@dataclass(frozen=True)
class Device:
    id: str
    citizen_id: str
    name: str
    platform: str | None
    bound_acr: Acr
    created_at: datetime
    last_used_at: datetime | None


def _device(row: DeviceKey) -> Device:
    return Device(
        id=row.id,
        citizen_id=row.citizen_id,
        name=row.name,
        platform=row.platform,
        bound_acr=Acr(row.bound_acr),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


def _cfg(name: str) -> int:
    return int(current_app.config[name])


def b64_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _issuer() -> str:
    return str(current_app.config["IDP_ISSUER"]).rstrip("/")


def _check_fresh(claims: dict[str, Any], *, error: type[DeviceRefused]) -> None:
    """``iat`` within the leeway and ``jti`` never seen (RFC 9449 section 11.1)."""
    leeway = _cfg("IDP_APP_SIGNATURE_LEEWAY")
    iat, jti = claims.get("iat"), claims.get("jti")
    if not isinstance(iat, int) or abs(time.time() - iat) > leeway:
        raise error(detail="iat missing or outside the leeway")
    if not isinstance(jti, str) or not 16 <= len(jti) <= 128:
        raise error(detail="jti missing or of a bad length")
    if claims.get("aud") != _issuer():
        raise error(detail="aud is not the issuer")
    if not current_store().put_if_absent(REPLAY, b64_sha256(jti.encode()), {}, 2 * leeway + 1):
        raise error(detail="jti replayed")


# --- binding ---------------------------------------------------------------------------------


def clean_name(value: Any) -> str:
    name = " ".join(str(value or "").split())
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise InvalidInput(
            f"The device name must be 1 to {MAX_NAME_LENGTH} printable characters.", field="name"
        )
    return name


def bind(*, access_token: str, proof: str) -> Device:
    """Bind the key of ``proof`` (a binding JWT) to the citizen of ``access_token``."""
    resolver: TokenResolver | None = current_app.extensions.get(RESOLVER)
    owner = resolver(access_token) if resolver and access_token else None
    if owner is None or not owner.native_first_party:
        raise InvalidAppToken(detail="unknown token or not a first-party native client")
    if owner.auth_time is None or time.time() - owner.auth_time > _cfg("IDP_APP_BIND_MAX_AGE"):
        raise InvalidAppToken(
            "Sign in again in the app to bind this device.", detail="sign-in too old"
        )
    try:
        header = app_signature.header_of(proof)
        jwk, thumbprint = app_signature.public_jwk(header.get("jwk"))
        _, claims = app_signature.verify(proof, jwk=jwk, typ=BINDING_TYP)
    except BadSignature as exc:
        raise InvalidDeviceSignature(detail=exc.detail) from None
    if claims.get("ath") != b64_sha256(access_token.encode()):
        raise InvalidDeviceSignature(detail="ath does not match the access token")
    _check_fresh(claims, error=InvalidDeviceSignature)
    name = clean_name(claims.get("name"))
    platform = str(claims.get("platform") or "other")
    if platform not in PLATFORMS:
        raise InvalidInput("Unknown platform.", field="platform")
    if db.session.scalar(select(DeviceKey.id).where(DeviceKey.thumbprint == thumbprint)):
        raise DeviceRefused("This key is already bound.", detail="thumbprint already bound")
    if len(list_devices(citizen_id=owner.citizen_id)) >= _cfg("IDP_APP_MAX_DEVICES"):
        raise TooManyDevices()
    row = DeviceKey(
        citizen_id=owner.citizen_id,
        public_jwk=jwk,
        thumbprint=thumbprint,
        name=name,
        platform=platform,
        bound_acr=str(Acr(owner.acr) if owner.acr in set(Acr) else Acr.LOW),
        client_id=owner.client_id,
    )
    db.session.add(row)
    db.session.commit()
    return _device(row)


def list_devices(*, citizen_id: str) -> list[Device]:
    rows = db.session.scalars(
        select(DeviceKey).where(DeviceKey.citizen_id == citizen_id).order_by(DeviceKey.created_at)
    )
    return [_device(r) for r in rows]


def remove(*, citizen_id: str, device_id: str) -> bool:
    """Unbind one of the citizen's devices; False if it is not theirs (or unknown)."""
    row = db.session.get(DeviceKey, device_id) if _looks_like_id(device_id) else None
    if row is None or row.citizen_id != citizen_id:
        return False
    db.session.delete(row)
    db.session.commit()
    return True


def _looks_like_id(value: str) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 36 and value.replace("-", "").isalnum()


# --- signed requests ---------------------------------------------------------------------------


def authenticate_request(
    *, authorization: str | None, method: str, path: str, body: bytes
) -> Device:
    """The bound device that signed this request; raises InvalidDeviceSignature."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme != SCHEME or not token:
        raise InvalidDeviceSignature("Sign the request with the device key.", detail="no Device")
    try:
        header = app_signature.header_of(token.strip())
        kid = header.get("kid")
        row = db.session.get(DeviceKey, kid) if _looks_like_id(str(kid or "")) else None
        if row is None:
            raise InvalidDeviceSignature(
                "This device is not bound. Sign in again in the app.", detail="unknown kid"
            )
        _, claims = app_signature.verify(token.strip(), jwk=row.public_jwk, typ=REQUEST_TYP)
    except BadSignature as exc:
        raise InvalidDeviceSignature(detail=exc.detail) from None
    if claims.get("htm") != method or claims.get("htu") != _issuer() + path:
        raise InvalidDeviceSignature(detail="htm/htu do not match the request")
    if claims.get("bdy") != b64_sha256(body):
        raise InvalidDeviceSignature(detail="bdy does not match the body")
    _check_fresh(claims, error=InvalidDeviceSignature)
    row.last_used_at = datetime.now(UTC)
    db.session.commit()
    return _device(row)


# --- what an approval proves ------------------------------------------------------------------


def approval_proof(device: Device, *, uv: bool, uvm: str | None) -> tuple[tuple[Amr, ...], Acr]:
    """(methods, level) of an approval signed by ``device`` (module docstring)."""
    methods: tuple[Amr, ...] = (Amr.SWK,)
    if uv:
        if uvm not in UV_METHODS:
            raise InvalidInput("Unknown user verification method.", field="uvm")
        methods = (Amr.SWK, BIOMETRIC_METHODS.get(str(uvm), Amr.PIN))
    level = level_for(methods, channel=Channel.MOBILE)
    if not device.bound_acr.satisfies(level):
        level = device.bound_acr  # NIST SP 800-63B 6.1.2.1
    return methods, level


def _probe(citizen_id: str) -> list[Capability]:
    """What the citizen's devices can add to a proof (for step-up planning): the best
    each can do, within its bound level."""
    found = []
    for device in list_devices(citizen_id=citizen_id):
        best = (Amr.SWK, Amr.FPT) if device.bound_acr == Acr.HIGH else (Amr.SWK, Amr.PIN)
        methods, level = approval_proof(device, uv=True, uvm="fpt" if Amr.FPT in best else "pin")
        found.append(Capability(methods=methods, level=level))
    return found


authenticators.register(APP, _probe)


def new_jti() -> str:
    return secrets.token_urlsafe(24)
