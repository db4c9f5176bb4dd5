"""OpenID Connect Client-Initiated Backchannel Authentication (CIBA) Core 1.0, poll and
ping modes, for the hotline's IVR and agent desk.

https://openid.net/specs/openid-client-initiated-backchannel-authentication-core-1_0.html

- ``BackchannelAuthenticationEndpoint`` (section 7, ``POST /bc-authorize``): a
  confidential client (``client_secret_*`` or ``private_key_jwt``) registered for the
  ``urn:openid:params:grant-type:ciba`` grant names the citizen by exactly one hint:
  ``login_hint`` (the ID number, checked by ``idp.ids``, looked up by blind index, never
  logged) or ``id_token_hint`` (an ID token issued to this client before,
  ``idp.oauth.id_token_hint``); ``login_hint_token`` is not supported
  (``invalid_request``, as is more than one hint, or none). The agent is named by
  ``agent_id`` (a staff account, ``idp.authn.decoupled.find_agent``); with ``scope``
  (``openid`` required), ``binding_message`` (section 7.1: shown on the citizen's phone;
  1 to ``BINDING_MESSAGE_MAX`` letters, digits, spaces and ``-.,:#/()``), ``acr_values``,
  ``requested_expiry`` and, in ping mode, ``client_notification_token``. Answer (7.3):
  ``auth_req_id``, ``expires_in``, ``interval``.
- **Deviation from section 13** (issue 5: "Unknown and known ID numbers get the same
  response"): an ID number no citizen holds is *not* answered ``unknown_user_id``; it
  gets a normal ``auth_req_id`` that is never approved and ends in ``expired_token``.
  A malformed number (wrong check digit, impossible date) is ``invalid_request``: it
  tells nothing about who has an account. Likewise an ``id_token_hint`` whose citizen's
  account was closed, or which names a locked citizen, starts as any other request; one
  that does not verify, or was issued to another client, is ``invalid_request``.
- ``CibaGrant`` (section 10.1, 11) at ``/token``: ``authorization_pending``,
  ``slow_down`` (polled before ``interval`` passed; the interval then grows by 5 s as in
  RFC 8628 3.5), ``access_denied`` (the citizen refused, or the level reached is below
  ``acr_values``), ``expired_token``, ``invalid_grant`` (unknown id, another client's,
  already used); once approved: an access token and an ID token (pairwise ``sub``,
  ``acr``, ``amr``, ``auth_time``, ``sid``, ``channel`` ``hotline`` and ``act`` naming
  the agent, RFC 8693 4.1), once. No refresh token: a call ends, its access ends.
- Ping mode (section 10.2): the provider POSTs ``{"auth_req_id": ...}`` with
  ``Authorization: Bearer <client_notification_token>`` to the client's registered
  ``backchannel_client_notification_endpoint`` when the citizen decides or, at the
  latest, when the request expires; the client then calls ``/token``. The ping is a row
  of the back-channel outbox (``idp.oauth.ciba_ping``), written with the request and
  sent, retried and abandoned like a logout notice (SSRF-checked, https only except
  loopback outside production).
- SMS read-back (``POST /bc-authorize/read-back``, this provider's extension): for a
  citizen without a bound app a code went to the phone on record; the agent submits
  what the citizen reads out (``auth_req_id``, ``code``). It reaches only low (``amr``
  ``sms``), so it is not offered when ``acr_values`` asks for more.

State lives in the ephemeral store, under a keyed hash of the ``auth_req_id``.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import replace
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749 import TokenEndpoint
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oauth2.rfc6749.errors import UnauthorizedClientError
from authlib.oauth2.rfc6749.grants.base import BaseGrant
from authlib.oauth2.rfc6749.grants.base import TokenEndpointMixin
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc8628 import ExpiredTokenError
from authlib.oauth2.rfc8628 import SlowDownError
from authlib.oauth2.rfc8628.errors import AuthorizationPendingError
from authlib.oidc.core import OpenIDToken as _OpenIDToken
from flask import Flask
from flask import current_app
from flask_babel import gettext as _

from ..audit import EventType
from ..authn import approvals
from ..authn import decoupled
from ..authn.assurance import amr_claim
from ..authn.result import Acr
from ..authn.result import Amr
from ..authn.result import Channel
from ..errors import CitizenLocked
from ..errors import IdpError
from ..errors import TooManyAttempts
from ..extensions import db
from ..ids import InvalidIdNumber
from ..ids import parse_id_number
from ..store import current_store
from . import ciba_ping
from . import hashing
from . import id_token_hint
from . import tokens
from .clients import AUTH_METHODS
from .clients import CIBA_GRANT_TYPE
from .clients import Client
from .errors import InvalidGrantError
from .errors import InvalidRequestError
from .errors import InvalidScopeError
from .grants import _audit_issue
from .grants import authorized_user
from .oidc import _auth_context
from .oidc import _IdTokenClaims

log = logging.getLogger(__name__)

PATH = "/bc-authorize"
READ_BACK_PATH = "/bc-authorize/read-back"
KIND = "ciba"
POLL_KIND = "ciba-poll"
APPROVAL_KIND = "ciba-approval"  # approval request id -> our key (for the ping)
PURPOSE = "ciba-auth-req-id"
SLOW_DOWN_STEP = 5  # as RFC 8628 3.5
EXPIRED_GRACE = 300  # a late poll still hears expired_token
BINDING_MESSAGE_MAX = 64
# CIBA 7.1: "relatively short and use a limited set of plain text characters".
_BINDING_MESSAGE = re.compile(r"^[\w \-.,:#/()]+$")
# RFC 6750 2.1 b64token (CIBA 7.1 client_notification_token), at most 1024 characters.
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
MAX_NOTIFICATION_TOKEN = 1024
MAX_LENGTHS = {
    "scope": 512,
    "acr_values": 512,
    "login_hint": 64,
    "agent_id": 64,
    "id_token_hint": 8192,
}
# CIBA 7.1: "one and only one" of these hints names the citizen.
HINTS = ("login_hint", "id_token_hint", "login_hint_token")
HINT_SUBJECT = "ciba-hint-subject"  # the quota key of an ID token naming nobody any more


class Status:
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class InvalidBindingMessageError(OAuth2Error):  # type: ignore[misc]
    """CIBA 13: "The binding message is invalid or unacceptable for use in the context of
    the given request." """

    error = "invalid_binding_message"


class BackchannelAccessDeniedError(AccessDeniedError):  # type: ignore[misc]
    """CIBA 13: access_denied at the backchannel endpoint is HTTP 403."""

    status_code = 403


class TooManyRequestsError(SlowDownError):  # type: ignore[misc]
    """A quota (per agent, client or citizen) is spent: HTTP 429 with Retry-After. The
    wire code is ``slow_down`` (the client must wait before asking again)."""

    status_code = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("Retry-After", str(self.retry_after))]


@dataclass(frozen=True)
class CibaRequest:
    key: str
    client_id: str
    scope: str
    agent_id: str
    expires_at: int
    mode: str
    required_acr: str | None = None
    approval: str | None = None  # the push request ("<id>.<secret>")
    sms: bool = False
    status: str = Status.PENDING
    # Set by an SMS read-back (the app's approval is read from idp.authn.approvals).
    citizen_id: str | None = None
    methods: list[str] = field(default_factory=list)
    acr: str | None = None
    decided_at: float | None = None
    # Ping mode only: the outbox row of the ping owed (idp.oauth.ciba_ping), which
    # alone keeps the client's notification token (sealed) and the auth_req_id.
    ping_id: str | None = None

    def is_expired(self) -> bool:
        return self.expires_at <= time.time()


@dataclass(frozen=True)
class GrantContext:
    """The sign-in behind the tokens, as a code or a token exposes it (idp.oauth.oidc)."""

    sid: str
    acr: str
    amr: list[str]
    auth_time: int
    act: dict[str, str] | None
    channel: str = str(Channel.HOTLINE)

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr)

    def get_sid(self) -> str:
        return self.sid

    def get_consent_id(self) -> None:
        # The citizen approves this one request on their phone (as for the device grant).
        return None

    def get_channel(self) -> str:
        return self.channel

    def get_act(self) -> dict[str, str] | None:
        return self.act

    def get_nonce(self) -> None:
        return None


def _hash(auth_req_id: str) -> str:
    return hashing.keyed_hash(PURPOSE, auth_req_id)


def _grace(request: CibaRequest) -> int:
    """How long past its expiry a request is kept, to answer ``expired_token``: a late
    poll's ``EXPIRED_GRACE`` and, in ping mode, as long as its ping may still be
    delivered (its retries: ``ciba_ping.retry_horizon``), so a client that calls
    ``/token`` on a late ping hears ``expired_token``, never ``invalid_grant``."""
    if request.ping_id is None:
        return EXPIRED_GRACE
    return max(EXPIRED_GRACE, ciba_ping.retry_horizon())


def _save(request: CibaRequest) -> None:
    ttl = max(1, request.expires_at - int(time.time()) + _grace(request))
    current_store().put(KIND, request.key, asdict(request), ttl)


_FIELDS = frozenset(f.name for f in fields(CibaRequest))


def _load(key: str) -> CibaRequest | None:
    data = current_store().get(KIND, key)
    # Fields a previous version stored (in flight across an upgrade) are left out.
    return CibaRequest(**{k: v for k, v in data.items() if k in _FIELDS}) if data else None


def _find(auth_req_id: Any, client: Client) -> CibaRequest:
    if not isinstance(auth_req_id, str) or not auth_req_id or len(auth_req_id) > 128:
        raise InvalidGrantError("The auth_req_id is not valid.")
    found = _load(_hash(auth_req_id))
    # RFC 6749 5.2: an unknown id, or another client's, is an invalid grant.
    if found is None or found.client_id != client.client_id:
        raise InvalidGrantError("The auth_req_id is not valid.")
    return found


def _cfg(name: str) -> int:
    return int(current_app.config[name])


def _lowest_acr(acr_values: str | None) -> str | None:
    """The lowest level the ``acr_values`` accept (CIBA 7.1: "in order of preference");
    unknown values are ignored, none known -> invalid_request."""
    if not acr_values:
        return None
    known = []
    for value in acr_values.split():
        try:
            known.append(Acr(value))
        except ValueError:
            continue
    if not known:
        raise InvalidRequestError("None of the acr_values is supported.")
    return str(min(known, key=lambda a: a.rank))


def check_binding_message(value: str | None) -> str | None:
    if value is None:
        return None
    if not 0 < len(value) <= BINDING_MESSAGE_MAX or not _BINDING_MESSAGE.match(value):
        raise InvalidBindingMessageError(
            f"The binding_message must be 1 to {BINDING_MESSAGE_MAX} letters, digits, "
            "spaces or -.,:#/()."
        )
    return value


def _sms_text(code: str, minutes: int) -> str:
    return _(
        "Government hotline: your sign-in code is %(code)s, valid %(minutes)s minutes. "
        "Read it to the agent only if you are on the phone with the hotline now.",
        code=code,
        minutes=minutes,
    )


# --- the backchannel authentication endpoint (section 7) ------------------------------------


class BackchannelAuthenticationEndpoint(TokenEndpoint):  # type: ignore[misc]
    ENDPOINT_NAME = "backchannel_authentication"
    CLIENT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def create_endpoint_response(self, request: Any) -> tuple[int, Any, Any]:
        # RFC 6749 3.2: parameters MUST NOT be included more than once.
        if request.payload.has_duplicates():
            raise InvalidRequestError("A parameter is repeated.")
        client: Client = self.authenticate_endpoint_client(request)
        if not client.check_grant_type(CIBA_GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use CIBA.")
        data = request.payload.data
        for name, limit in MAX_LENGTHS.items():
            if len(str(data.get(name) or "")) > limit:
                raise InvalidRequestError(f"The '{name}' parameter is too long.")
        # CIBA 7.1: "The CIBA authentication request MUST contain the openid scope".
        scope = client.get_allowed_scope(data.get("scope") or "")
        if not scope or "openid" not in scope.split():
            raise InvalidScopeError("The scope must include openid and only scopes registered.")
        if "offline_access" in scope.split():
            raise InvalidScopeError("CIBA grants carry no refresh token (no offline_access).")
        if data.get("user_code"):
            raise InvalidRequestError("user_code is not supported.")
        named = _named(client, data)
        agent = decoupled.find_agent(data.get("agent_id"))
        if agent is None:
            raise BackchannelAccessDeniedError("The agent_id is not an active hotline agent.")
        binding_message = check_binding_message(data.get("binding_message"))
        required_acr = _lowest_acr(data.get("acr_values"))
        mode = client.model.backchannel_token_delivery_mode or "poll"
        token = data.get("client_notification_token")
        if mode == "ping":
            # CIBA 7.1: REQUIRED in ping mode; RFC 6750 b64token, at most 1024 characters.
            if not token:
                raise InvalidRequestError("Missing 'client_notification_token' (ping mode).")
            if len(token) > MAX_NOTIFICATION_TOKEN or not _B64TOKEN.match(token):
                raise InvalidRequestError("The client_notification_token is malformed.")
        ttl = _cfg("IDP_CIBA_TTL")
        requested = data.get("requested_expiry")
        if requested is not None:
            text = str(requested)
            if not (text.isascii() and text.isdigit() and 0 < len(text) <= 6 and int(text)):
                raise InvalidRequestError("requested_expiry must be a positive integer.")
            ttl = min(ttl, int(text))
        auth_req_id = secrets.token_urlsafe(32)  # CIBA 7.3: sufficient entropy
        key = _hash(auth_req_id)
        expires_at = int(time.time()) + ttl
        try:
            started = decoupled.start(
                named=named,
                agent=agent,
                client_id=client.client_id,
                client_name=client.name,
                binding_message=binding_message,
                required_acr=required_acr,
                transaction=key,
                ip=f"hotline-agent:{agent.id}",
                compose_sms=_sms_text,
                sms_allowed=required_acr in (None, str(Acr.LOW)),
            )
        except TooManyAttempts as exc:
            raise TooManyRequestsError(
                "Too many authentication requests; try again later.", retry_after=exc.resets_in
            ) from None
        ping_id = None
        if mode == "ping":
            # CIBA 10.2: one ping is owed, at the decision or at expiry at the latest.
            ping_id = ciba_ping.queue(
                client_id=client.client_id,
                auth_req_id=auth_req_id,
                token=token,
                expires_at=expires_at,
            )
        record = CibaRequest(
            key=key,
            client_id=client.client_id,
            scope=scope,
            agent_id=agent.id,
            expires_at=expires_at,
            mode=mode,
            required_acr=required_acr,
            approval=started.approval,
            sms=started.sms,
            ping_id=ping_id,
        )
        _save(record)
        if started.approval:
            approval_id = started.approval.split(".", 1)[0]
            current_store().put(APPROVAL_KIND, approval_id, {"key": key}, ttl + EXPIRED_GRACE)
        interval = _cfg("IDP_CIBA_POLL_INTERVAL")
        body = {"auth_req_id": auth_req_id, "expires_in": ttl, "interval": interval}
        return 200, body, [("Cache-Control", "no-store"), ("Content-Type", "application/json")]


def _named(client: Client, data: Any) -> decoupled.Named:
    """The citizen the request names (CIBA 7.1: exactly one hint; 13: invalid_request for
    none or several). Unknown, closed and locked accounts are named like any other."""
    given = [name for name in HINTS if data.get(name)]
    if len(given) > 1:
        raise InvalidRequestError(
            "Give exactly one of login_hint, id_token_hint and login_hint_token, not several."
        )
    if given == ["login_hint_token"]:
        raise InvalidRequestError(
            "login_hint_token is not supported: name the citizen by login_hint (the ID "
            "number) or id_token_hint."
        )
    if not given:
        raise InvalidRequestError(
            "Missing 'login_hint' (the citizen's ID number) or 'id_token_hint'."
        )
    if given == ["id_token_hint"]:
        hinted = id_token_hint.resolve(str(data["id_token_hint"]), client)
        unknown = hashing.keyed_hash(HINT_SUBJECT, f"{client.client_id}\x00{hinted.sub}")
        return decoupled.named_by_id(hinted.citizen_id, unknown_key=unknown)
    try:
        number = parse_id_number(number=str(data["login_hint"]))
    except InvalidIdNumber:
        raise InvalidRequestError("The login_hint is not a valid ID number.") from None
    return decoupled.named_by_number(number)


# --- SMS read-back (this provider's extension) ----------------------------------------------


class ReadBackEndpoint(TokenEndpoint):  # type: ignore[misc]
    ENDPOINT_NAME = "ciba_read_back"
    CLIENT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def create_endpoint_response(self, request: Any) -> tuple[int, Any, Any]:
        if request.payload.has_duplicates():
            raise InvalidRequestError("A parameter is repeated.")
        client: Client = self.authenticate_endpoint_client(request)
        if not client.check_grant_type(CIBA_GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use CIBA.")
        data = request.payload.data
        code = data.get("code")
        if not code or len(str(code)) > 32:
            raise InvalidRequestError("Missing or malformed 'code'.")
        found = _find(data.get("auth_req_id"), client)
        if found.is_expired():
            raise ExpiredTokenError("The auth_req_id has expired.")
        if found.status != Status.PENDING or not found.sms:
            # The same answer as a wrong code: whether the citizen was sent a code (no
            # bound app) or a push (an app) is not the caller's to learn.
            raise InvalidGrantError("The code is not valid.")
        try:
            citizen_id = decoupled.check_read_back(
                transaction=found.key, code=str(code), ip=f"hotline-agent:{found.agent_id}"
            )
        except TooManyAttempts as exc:
            raise TooManyRequestsError(
                "Too many wrong codes; try again later.", retry_after=exc.resets_in
            ) from None
        except IdpError:
            raise InvalidGrantError("The code is not valid.") from None
        decided = replace(
            found,
            status=Status.APPROVED,
            citizen_id=citizen_id,
            methods=[str(Amr.SMS)],
            acr=str(Acr.LOW),
            decided_at=approvals.now(),
        )
        _save(decided)
        _ping(decided)
        return 200, {"status": "approved"}, [("Cache-Control", "no-store")]


# --- the token endpoint (sections 10.1, 11) -------------------------------------------------


class CibaGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    GRANT_TYPE = CIBA_GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]

    def validate_token_request(self) -> None:
        auth_req_id = self.request.payload.data.get("auth_req_id")
        if not auth_req_id:
            raise InvalidRequestError("Missing 'auth_req_id' in request.")
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("This client may not use CIBA.")
        found = _find(auth_req_id, client)
        self.request.client = client
        try:
            context, citizen_id = self._decided(found)
        except (AuthorizationPendingError, SlowDownError):
            raise
        except OAuth2Error:
            _answered(found)
            raise
        _answered(found)
        self.granted_scope = found.scope
        self.request.credential = context
        self.request.user = authorized_user(client, citizen_id, context)
        if self.request.user is None:
            raise InvalidGrantError("The citizen can no longer sign in.")

    def _decided(self, found: CibaRequest) -> tuple[GrantContext, str]:
        if found.status == Status.DENIED:
            # Before the expiry check: refused before it expired, it stays refused, for
            # as long as it is kept (a ping still being retried leads the client here).
            raise AccessDeniedError("The citizen refused.")
        if found.is_expired():
            # Kept (it ages out on its own): a ping still being retried leads the client
            # here again, and it must hear expired_token again.
            raise ExpiredTokenError("The auth_req_id has expired.")
        proof = self._proof(found)
        if proof is None:
            if self._too_fast(found):
                raise SlowDownError("Polling too fast: wait the interval, now 5 seconds longer.")
            raise AuthorizationPendingError("The citizen has not decided yet.")
        if found.required_acr and not Acr(proof.acr).satisfies(Acr(found.required_acr)):
            _refused(found)
            raise AccessDeniedError("The level reached is below the acr_values asked for.")
        try:
            session = decoupled.complete(Channel.HOTLINE, proof)
        except CitizenLocked:
            raise InvalidGrantError("The citizen can no longer sign in.") from None
        standing = session.levels[str(proof.acr)]
        context = GrantContext(
            sid=session.sid,
            acr=str(proof.acr),
            amr=amr_claim(tuple(Amr(m) for m in standing.get("methods", []))),
            auth_time=int(standing["at"]),
            act=standing.get("act"),
        )
        return context, proof.citizen_id

    def _proof(self, found: CibaRequest) -> decoupled.Proof | None:
        """The citizen's proof once decided, taken once (of two concurrent polls only one
        consumes the request); None while pending. Raises on a refusal or expiry."""
        store = current_store()
        if found.status == Status.APPROVED and found.citizen_id and found.acr:
            if store.consume(KIND, found.key) is None:
                raise InvalidGrantError("The auth_req_id was already used.")
            return decoupled.Proof(
                citizen_id=found.citizen_id,
                methods=tuple(Amr(m) for m in found.methods),
                acr=Acr(found.acr),
                decided_at=float(found.decided_at or time.time()),
                agent_id=found.agent_id,
                client_id=found.client_id,
            )
        if not found.approval:
            return None  # an SMS code not read back yet, or nobody was asked
        state = approvals.status(found.approval, interaction_uid=None)
        if state == approvals.Status.DENIED:
            _refused(found)
            raise AccessDeniedError("The citizen refused.")
        if state is None or state == approvals.Status.EXPIRED:
            raise ExpiredTokenError("The auth_req_id has expired.")  # kept, as above
        if state != approvals.Status.APPROVED:
            return None
        if store.consume(KIND, found.key) is None:
            raise InvalidGrantError("The auth_req_id was already used.")
        approved = approvals.claim(found.approval, interaction_uid=None)
        if approved is None:  # the approving device was unbound meanwhile
            _refused(found)
            raise AccessDeniedError("The approval no longer counts.")
        return decoupled.Proof(
            citizen_id=approved.citizen_id,
            methods=approved.methods,
            acr=approved.acr,
            decided_at=approved.decided_at,
            agent_id=found.agent_id,
            client_id=found.client_id,
            device_id=approved.device_id,
        )

    def _too_fast(self, found: CibaRequest) -> bool:
        """CIBA 11 slow_down: polled before the interval passed; the interval then grows
        by 5 seconds for this and later polls (as RFC 8628 3.5)."""
        store = current_store()
        now = time.time()
        poll = store.get(POLL_KIND, found.key) or {}
        interval = int(poll.get("interval") or _cfg("IDP_CIBA_POLL_INTERVAL"))
        last = poll.get("last")
        too_fast = last is not None and now - float(last) < interval
        if too_fast:
            interval += SLOW_DOWN_STEP
        ttl = max(1, found.expires_at - int(now) + _grace(found))
        store.put(POLL_KIND, found.key, {"last": now, "interval": interval}, ttl)
        return too_fast

    @hooked  # type: ignore[misc]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token: dict[str, Any] = self.generate_token(
            user=self.request.user, scope=self.granted_scope, include_refresh_token=False
        )
        grant_id = str(uuid.uuid4())
        tokens.persist(
            token,
            client_id=self.request.client.client_id,
            user=self.request.user,
            grant_id=grant_id,
        )
        _audit_issue(EventType.TOKEN_ISSUE, token, self.request, grant_id=grant_id)
        db.session.commit()
        return 200, token, self.TOKEN_RESPONSE_HEADER


class OpenIDCiba(_IdTokenClaims, _OpenIDToken):  # type: ignore[misc]
    """The ID token of a CIBA grant (CIBA 10.1.1: as OIDC Core 3.1.3.3); the
    authentication context comes from the approved request."""

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        claims = self.get_client_claims(request.client)
        claims.update(_auth_context(request.credential))
        return claims


# --- ping (section 10.2) ----------------------------------------------------------------------


def on_approval_decided(request: approvals.ApprovalRequest) -> None:
    """An app answered a push: if it was a CIBA request in ping mode, tell the client.
    A refusal is written on the request at once, so ``/token`` answers it even once the
    request has expired (its ping may be retried past the expiry)."""
    if request.channel != str(Channel.HOTLINE):
        return
    entry = current_store().get(APPROVAL_KIND, request.id)
    found = _load(str(entry["key"])) if entry else None
    if found is None:
        return
    if found.status == Status.PENDING and _refuses(request, found):
        found = _refused(found)
    _ping(found)


def _refuses(request: approvals.ApprovalRequest, found: CibaRequest) -> bool:
    """The app's answer is a refusal: denied, or approved below the level asked for
    (``/token`` would answer ``access_denied`` to either)."""
    if request.status == approvals.Status.DENIED:
        return True
    below = request.acr and found.required_acr
    return bool(below) and not Acr(str(request.acr)).satisfies(Acr(str(found.required_acr)))


def _refused(found: CibaRequest) -> CibaRequest:
    """Keep the request as refused (``/token`` checks that first, so it never yields
    tokens), for as long as an expired one is kept (``_grace``): a ping still being
    retried leads the client to ``/token`` again, and it hears ``access_denied`` again,
    not ``invalid_grant``. A request already expired is left to answer ``expired_token``
    (an app may refuse after a shorter ``requested_expiry``)."""
    if found.is_expired():
        return found
    refused = replace(found, status=Status.DENIED, decided_at=found.decided_at or time.time())
    _save(refused)
    return refused


def _ping(found: CibaRequest) -> None:
    """The citizen decided: the ping owed is due now (sent by the outbox worker)."""
    if found.ping_id:
        ciba_ping.due_now(found.ping_id)


def _answered(found: CibaRequest) -> None:
    """``/token`` gave the client its final answer: no ping is owed any more."""
    if found.ping_id:
        ciba_ping.cancel(found.ping_id)


def init_app(app: Flask) -> None:
    approvals.subscribe(app, on_approval_decided)
