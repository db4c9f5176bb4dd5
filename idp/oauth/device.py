"""OAuth 2.0 Device Authorization Grant, RFC 8628 (https://www.rfc-editor.org/rfc/rfc8628),
behind ``IDP_FEATURE_DEVICE_FLOW``, for registered kiosks.

- ``DeviceAuthorizationEndpoint`` (section 3.1/3.2, ``POST /device_authorization``):
  the kiosk authenticates (``private_key_jwt``), and gets a ``device_code``, a
  ``user_code`` and the verification URI (``/device``) it shows as a QR code.
- The citizen, signed in on their phone, enters or confirms the user code at ``/device``
  (``idp.web.device_bp``), sees which kiosk asks and where it stands (section 5.4:
  remote phishing) and approves or denies: ``find_request`` and ``decide``.
- ``DeviceCodeGrant`` (section 3.4/3.5) at the token endpoint: ``authorization_pending``
  while undecided, ``slow_down`` when polled faster than the interval (which then grows
  by 5 seconds "for this and all subsequent requests"), ``access_denied``,
  ``expired_token``; once approved, tokens as usual (an ID token with the ``acr``,
  ``amr``, ``auth_time`` and ``sid`` of the citizen's session, a pairwise ``sub``). A
  device code yields tokens once.

User codes (section 6.1): 8 characters of ``BCDFGHJKLMNPQRSTVWXZ`` (no vowels, no
look-alike digits; 20^8 = 2.6e10 codes), shown as ``XXXX-XXXX``; case, spaces and
hyphens are ignored when typed. Section 5.1 asks for rate limits on entering codes:
wrong codes are throttled per client IP (``idp.authn.ratelimit``: free attempts, then
growing waits, then a lock) and for everyone together (a per-minute cap).

State lives in the ephemeral store: the request under a hash of its device code (kept a
little past its expiry so a late poll hears ``expired_token``), the user code pointing
at it, and the polling clock in a key of its own (so a poll never overwrites the
citizen's decision).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oauth2.rfc6749.errors import UnauthorizedClientError
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint as _Endpoint
from authlib.oauth2.rfc8628 import DeviceCodeGrant as _Grant
from authlib.oauth2.rfc8628 import DeviceCredentialMixin
from authlib.oauth2.rfc8628 import ExpiredTokenError
from authlib.oauth2.rfc8628 import SlowDownError
from authlib.oauth2.rfc8628.errors import AuthorizationPendingError
from authlib.oidc.core import OpenIDToken as _OpenIDToken
from flask import current_app

from ..authn import sessions
from ..authn.events import record_lock
from ..authn.kiosks import active_kiosk
from ..authn.ratelimit import Policy
from ..authn.ratelimit import Throttle
from ..authn.ratelimit import ip_key
from ..authn.result import Acr
from ..authn.result import Channel
from ..authn.service import level_policy
from ..errors import TooManyAttempts
from ..extensions import db
from ..store import current_store
from . import tokens
from .clients import AUTH_METHODS
from .clients import DEVICE_CODE_GRANT_TYPE
from .clients import Client
from .clients import query_client
from .errors import InvalidGrantError
from .errors import InvalidRequestError
from .errors import InvalidScopeError
from .grants import authorized_user
from .oidc import _IdTokenClaims
from .sign_in_context import SignInContext

KIND = "device"
USER_KIND = "device-user"
POLL_KIND = "device-poll"
GUESS_KIND = "device-guess"
GUESS_LOCK = "device-guess-lock"
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 section 6.1
USER_CODE_LENGTH = 8
SLOW_DOWN_STEP = 5  # RFC 8628 section 3.5
# A late poll still hears expired_token (not invalid_grant) this long after expiry.
EXPIRED_GRACE = 300
PATH = "/device_authorization"
VERIFICATION_PATH = "/device"


class Status:
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True)
class DeviceRequest(SignInContext, DeviceCredentialMixin):  # type: ignore[misc]
    """One device authorization request and, once decided, the sign-in behind it."""

    key: str  # hash of the device code
    client_id: str
    scope: str
    user_code: str
    expires_at: int
    status: str = Status.PENDING
    citizen_id: str | None = None
    sid: str | None = None
    acr: str | None = None
    amr: list[str] = field(default_factory=list)
    auth_time: int | None = None
    # The citizen approves the kiosk's scopes on /device for this one grant; no durable
    # consent record stands behind it (releases name no consent).
    consent_id: str | None = None
    channel: str | None = None  # the phone session's channel (the ``channel`` claim)
    act: dict[str, str] | None = None  # RFC 8693 4.1, see idp.authn.acting

    def get_client_id(self) -> str:
        return self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_user_code(self) -> str:
        return self.user_code

    def is_expired(self) -> bool:
        return self.expires_at <= time.time()

    def get_nonce(self) -> None:
        return None


@dataclass(frozen=True)
class PendingApproval:
    """What the verification page shows: who asks, from where, for what."""

    request: DeviceRequest
    client_name: str
    place: str | None


def _hash(device_code: str) -> str:
    return hashlib.sha256(device_code.encode()).hexdigest()


def _ttl() -> int:
    return int(current_app.config["IDP_TTL_DEVICE_CODE"])


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalise_user_code(value: Any) -> str | None:
    """RFC 8628 section 6.1: case-insensitive, punctuation ignored; None if it cannot be
    a user code at all (so it is not even looked up)."""
    if not isinstance(value, str) or len(value) > 32:
        return None
    code = "".join(ch for ch in value.upper() if ch not in " -\t")
    if len(code) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in code):
        return None
    return code


def display_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _load(key: str) -> DeviceRequest | None:
    data = current_store().get(KIND, key)
    return DeviceRequest(**data) if data else None


def _save(request: DeviceRequest) -> None:
    ttl = max(1, request.expires_at - int(time.time()) + EXPIRED_GRACE)
    current_store().put(KIND, request.key, asdict(request), ttl)


# --- the device authorization endpoint (RFC 8628 section 3.1 / 3.2) ---------------------------


class DeviceAuthorizationEndpoint(_Endpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def get_verification_uri(self) -> str:
        return str(current_app.config["IDP_ISSUER"]).rstrip("/") + VERIFICATION_PATH

    def create_endpoint_response(self, request: Any) -> tuple[int, Any, Any]:
        # RFC 6749 section 3.2: parameters MUST NOT be included more than once.
        if request.payload.has_duplicates():
            raise InvalidRequestError("A parameter is repeated.")
        status, body, headers = super().create_endpoint_response(request)
        body["user_code"] = display_user_code(body["user_code"])
        body["verification_uri_complete"] = (
            self.get_verification_uri() + "?user_code=" + body["user_code"]
        )
        return status, body, headers

    def authenticate_client(self, request: Any) -> Client:
        client: Client = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device grant.")
        # RFC 8628 3.1 scope is OPTIONAL: the client's registered scope by default.
        scope = client.get_allowed_scope(request.payload.scope or client.model.scope)
        if scope is None or "openid" not in scope.split():
            raise InvalidScopeError("The scope must include openid and only scopes registered.")
        request.payload.data["scope"] = scope
        return client

    def generate_user_code(self) -> str:
        return new_user_code()

    def generate_device_code(self) -> str:
        return secrets.token_urlsafe(32)

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        ttl = _ttl()
        data["expires_in"] = ttl
        data["interval"] = int(current_app.config["IDP_DEVICE_POLL_INTERVAL"])
        store = current_store()
        code = data["user_code"]
        key = _hash(data["device_code"])
        # User codes are short: draw again on the rare collision with a live one.
        while not store.put_if_absent(USER_KIND, code, {"key": key}, ttl):
            code = new_user_code()
        data["user_code"] = code
        _save(
            DeviceRequest(
                key=key,
                client_id=client_id,
                scope=scope,
                user_code=code,
                expires_at=int(time.time()) + ttl,
            )
        )


# --- the citizen's side: the verification page -----------------------------------------------


def _guess_throttle() -> Throttle:
    cfg = current_app.config
    policy = Policy(
        free_attempts=int(cfg["IDP_DEVICE_CODE_FREE_ATTEMPTS"]),
        lock_after=int(cfg["IDP_DEVICE_CODE_LOCK_AFTER"]),
        lock_seconds=int(cfg["IDP_LOGIN_LOCK_SECONDS"]),
        ip_lock_after=int(cfg["IDP_LOGIN_IP_LOCK_AFTER"]),
    )
    return Throttle(current_store(), policy, scope="device-code", on_lock=record_lock)


def find_request(user_code: Any, *, ip: str) -> PendingApproval | None:
    """The undecided request behind a typed user code, or None (unknown, expired or
    decided). Wrong codes count against the caller's IP and the global cap; raises
    ``TooManyAttempts`` when either is spent."""
    store = current_store()
    if (remaining := store.ttl(GUESS_LOCK, "all")) > 0:
        raise TooManyAttempts(resets_in=remaining)
    throttle = _guess_throttle()
    attempt = throttle.begin(subject=ip_key(ip), ip=ip)
    found = _lookup(normalise_user_code(user_code))
    if found is None:
        throttle.failed(attempt)
        limit = int(current_app.config["IDP_DEVICE_CODE_GLOBAL_PER_MINUTE"])
        if store.incr(GUESS_KIND, "all", 60) >= limit:
            store.put(GUESS_LOCK, "all", {}, max(1, store.ttl(GUESS_KIND, "all")))
        return None
    throttle.succeeded(attempt)
    return found


def _lookup(code: str | None) -> PendingApproval | None:
    if code is None:
        return None
    pointer = current_store().get(USER_KIND, code)
    request = _load(str(pointer["key"])) if pointer else None
    if request is None or request.status != Status.PENDING or request.is_expired():
        return None
    client = query_client(request.client_id)
    if client is None:
        return None
    kiosk = active_kiosk(request.client_id)
    return PendingApproval(request=request, client_name=client.name, place=kiosk and kiosk.place)


def decide(
    user_code: Any, *, approve: bool, session: sessions.SsoSession, ip: str
) -> PendingApproval | None:
    """Record the signed-in citizen's decision; None if the code is no longer pending.

    On approval the request takes the session's standing level (its ``acr``, ``amr`` and
    the time it was reached) and ``sid``; the kiosk joins the session's portals (for
    logout) and its devices (channel, kiosk, place, time, level), and the level counts
    as used now.
    """
    found = find_request(user_code, ip=ip)
    if found is None:
        return None
    store = current_store()
    request = found.request
    if not approve:
        _save(replace(request, status=Status.DENIED))
        store.delete(USER_KIND, request.user_code)
        return found
    standing = session.standing(level_policy(), int(time.time()))
    if standing is None:
        return None
    idle = int(current_app.config["IDP_TTL_SSO_IDLE"])
    session = sessions.record_use(
        store, session, client_id=request.client_id, level=standing.acr, idle=idle
    )
    # Issue 5: the sign-in records the channel, device, place, time and level.
    sessions.record_device(
        store,
        session,
        channel=str(Channel.KIOSK),
        device_id=request.client_id,
        place=found.place,
        level=standing.acr,
        idle=idle,
    )
    _save(
        replace(
            request,
            status=Status.APPROVED,
            citizen_id=session.citizen_id,
            sid=session.sid,
            acr=str(standing.acr),
            amr=standing.amr,
            auth_time=standing.reached_at,
            channel=getattr(standing, "channel", None) or None,
            act=standing.act,
        )
    )
    store.delete(USER_KIND, request.user_code)
    return found


def minimum_level(client_id: str) -> Acr | None:
    """The level the kiosk's client policy requires of an approving session."""
    client = query_client(client_id)
    return client.minimum_acr if client is not None else None


# --- the token endpoint (RFC 8628 section 3.4 / 3.5) ----------------------------------------


class DeviceCodeGrant(_Grant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def validate_token_request(self) -> None:
        device_code = self.request.payload.data.get("device_code")
        if not device_code:
            raise InvalidRequestError("Missing 'device_code' in request.")
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use the device grant.")
        credential = _load(_hash(str(device_code))) if len(device_code) <= 128 else None
        # RFC 6749 5.2: an unknown code, or another client's, is an invalid grant.
        if credential is None or credential.client_id != client.client_id:
            raise InvalidGrantError("The device code is not valid.")
        self.request.client = client
        self.request.credential = credential
        self.request.user = self.validate_device_credential(credential)

    def validate_device_credential(self, credential: DeviceRequest) -> Any:
        store = current_store()
        if credential.is_expired():
            store.delete(KIND, credential.key)
            raise ExpiredTokenError("The device code has expired.")
        if credential.status == Status.DENIED:
            store.delete(KIND, credential.key)
            raise AccessDeniedError("The citizen denied the request.")
        if credential.status == Status.APPROVED:
            # Tokens once: of two concurrent polls only one consumes the approval.
            if store.consume(KIND, credential.key) is None or credential.citizen_id is None:
                raise InvalidGrantError("The device code was already used.")
            user = authorized_user(self.request.client, credential.citizen_id, credential)
            if user is None:
                raise InvalidGrantError("The citizen can no longer sign in.")
            return user
        if self.should_slow_down(credential):
            raise SlowDownError("Polling too fast: wait the interval, now 5 seconds longer.")
        raise AuthorizationPendingError("The citizen has not decided yet.")

    def should_slow_down(self, credential: DeviceRequest) -> bool:
        """RFC 8628 3.5: polled before the interval passed -> the interval grows by 5 s,
        for this and every later request."""
        store = current_store()
        now = time.time()
        poll = store.get(POLL_KIND, credential.key) or {}
        interval = int(poll.get("interval") or current_app.config["IDP_DEVICE_POLL_INTERVAL"])
        last = poll.get("last")
        too_fast = last is not None and now - float(last) < interval
        if too_fast:
            interval += SLOW_DOWN_STEP
        ttl = max(1, credential.expires_at - int(now) + EXPIRED_GRACE)
        store.put(POLL_KIND, credential.key, {"last": now, "interval": interval}, ttl)
        return too_fast

    def query_device_credential(self, device_code: str) -> DeviceRequest | None:
        return _load(_hash(device_code))

    def query_user_grant(self, user_code: str) -> None:
        raise NotImplementedError("validate_device_credential reads the decision itself")

    def save_token(self, token: dict[str, Any]) -> None:
        tokens.persist(
            token,
            client_id=self.request.client.client_id,
            user=self.request.user,
            grant_id=str(uuid.uuid4()),
        )
        db.session.commit()


class OpenIDDevice(_IdTokenClaims, _OpenIDToken):  # type: ignore[misc]
    """The ID token of a device grant (OIDC Core 2 claims, as for the code grant): the
    authentication context comes from the approved device request."""

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        from .oidc import _auth_context

        claims = self.get_client_claims(request.client)
        claims.update(_auth_context(request.credential))
        return claims
