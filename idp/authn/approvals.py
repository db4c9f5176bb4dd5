"""Approval requests answered in the mobile app: QR sign-in and push approvals.

One mechanism for every channel that needs "approve it on your phone": the website's
(and later the kiosks') QR sign-in, and push requests (a step-up on the website today;
the hotline's CIBA requests later). A request lives in the ephemeral store, says who is
asking (``client_name``), from which channel and place, and carries a short matching
code shown on both screens. The app answers with a decision signed by a bound device
key (``idp.authn.devices``); the waiting browser (or, later, the CIBA poller) then
claims the result once and hands it to ``service.complete_login``.

Rules (README "Sign in with the app"):

- **Lifetime.** A request expires ``IDP_APP_QR_TTL`` / ``IDP_APP_PUSH_TTL`` seconds
  after it was made, at most 120; the clock is ``now()`` (tests inject one as
  ``app.extensions["idp.clock"]``).
- **Single use.** The QR token is consumed by the first device that scans it; the
  decision is recorded once; the approved result is consumed by the first claim.
- **Bound to the browser.** The request holds a SHA-256 of a secret that only the
  browser that displayed the code has (an HttpOnly cookie): polling and claiming need
  it, so a relayed QR code or request id signs in nobody else.
- **Push cap.** At most ``IDP_APP_PUSH_MAX_PENDING`` pending push requests per citizen
  and ``IDP_APP_PUSH_PER_HOUR`` per hour (``TooManyRequests``).
- **"Not me".** A push refused as "not me" refuses the citizen's other pending
  requests, locks new push requests for ``IDP_APP_NOT_ME_LOCK`` seconds
  (``ApprovalsLocked``) and alerts the citizen (``idp.authn.alerts``). QR sign-in is
  started by the citizen themself and is not locked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from enum import StrEnum
from typing import Any

from flask import current_app

from ..errors import IdpError
from ..errors import TooManyAttempts
from ..extensions import db
from ..models import DeviceKey
from ..models import OAuthClient
from ..store import current_store
from . import alerts
from .devices import Device
from .devices import approval_proof
from .result import Acr
from .result import Amr

KIND = "approval"
QR_KIND = "approval-qr"
PENDING_INDEX = "approval-pending"
LOCK = "approval-lock"
HOURLY = "approval-hourly"
MAX_TTL = 120  # issue 5: "expires within two minutes"
GRACE = 60  # kept this long after expiry so a poll can say "expired"
QR_PREFIX = "/mobile/qr/"


class Status(StrEnum):
    PENDING = "pending"  # waiting for a device (QR: not yet scanned)
    SCANNED = "scanned"  # QR: a device has it on screen
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"  # never stored: computed from the clock


class Kind(StrEnum):
    QR = "qr"
    PUSH = "push"


class Decision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    NOT_ME = "not_me"


class UnknownRequest(IdpError):
    public = "This request does not exist or has expired."


class RequestExpired(IdpError):
    public = "This request has expired. Start again."


class AlreadyDecided(IdpError):
    public = "This request has already been answered."


class ApprovalsLocked(TooManyAttempts):
    public = "Approval requests are paused because one was refused as not yours."


class TooManyRequests(TooManyAttempts):
    public = "Too many approval requests. Try again later."


def now() -> float:
    clock = current_app.extensions.get("idp.clock")
    return float(clock()) if clock is not None else time.time()


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    kind: str
    status: str
    created_at: float
    expires_at: float
    channel: str  # where the sign-in happens (website, kiosk, hotline ...)
    place: str  # what that channel says about where (browser and network, kiosk site)
    match: str  # the matching code shown on both screens
    client_name: str | None = None  # the portal asking, if any
    required_acr: str | None = None
    purpose: str = "sign_in"  # "sign_in" | "step_up"
    interaction_uid: str | None = None
    citizen_id: str | None = None  # QR: set by the scan
    device_id: str | None = None
    secret_hash: str | None = None
    methods: list[str] = field(default_factory=list)
    acr: str | None = None
    max_acr: str | None = None  # the deciding device's bound level (its cap)
    decided_at: float | None = None

    def current_status(self, at: float) -> Status:
        if self.status in (Status.PENDING, Status.SCANNED, Status.APPROVED) and at >= (
            self.expires_at
        ):
            return Status.EXPIRED
        return Status(self.status)

    def view(self, at: float) -> dict[str, Any]:
        """What the app is shown (never the citizen's data or the browser's secret)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": str(self.current_status(at)),
            "purpose": self.purpose,
            "client_name": self.client_name,
            "channel": self.channel,
            "place": self.place,
            "match": self.match,
            "required_acr": self.required_acr,
            "expires_in": max(0, int(self.expires_at - at)),
        }


@dataclass(frozen=True)
class Started:
    request: ApprovalRequest
    secret: str  # for the browser's HttpOnly cookie: "<id>.<secret>"
    qr_payload: str | None = None  # what the QR code encodes


@dataclass(frozen=True)
class Approved:
    """A claimed approval: what the adapter turns into an AuthResult."""

    citizen_id: str
    device_id: str
    methods: tuple[Amr, ...]
    acr: Acr
    max_acr: Acr
    decided_at: float


def _ttl(name: str) -> int:
    return max(1, min(int(current_app.config[name]), MAX_TTL))


def _save(request: ApprovalRequest) -> None:
    remaining = int(request.expires_at - now()) + GRACE
    current_store().put(KIND, request.id, asdict(request), max(1, remaining))


def get(request_id: str) -> ApprovalRequest | None:
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
        return None
    data = current_store().get(KIND, request_id)
    return ApprovalRequest(**data) if data else None


def _new(kind: Kind, ttl: int, **fields: Any) -> tuple[ApprovalRequest, str]:
    at = now()
    secret = secrets.token_urlsafe(32)
    request = ApprovalRequest(
        id=secrets.token_urlsafe(18),
        kind=str(kind),
        status=str(Status.PENDING),
        created_at=at,
        expires_at=at + ttl,
        match=f"{secrets.randbelow(100):02d}",
        secret_hash=_hash(secret),
        **fields,
    )
    _save(request)
    return request, secret


# --- starting -------------------------------------------------------------------------------


def start_qr(
    *,
    channel: str,
    place: str,
    client_name: str | None,
    required_acr: str | None,
    interaction_uid: str | None,
) -> Started:
    """A QR sign-in for a browser (or kiosk) that does not know the citizen yet."""
    ttl = _ttl("IDP_APP_QR_TTL")
    request, secret = _new(
        Kind.QR,
        ttl,
        channel=channel,
        place=place[:120],
        client_name=client_name,
        required_acr=required_acr,
        interaction_uid=interaction_uid,
    )
    token = secrets.token_urlsafe(24)
    current_store().put(QR_KIND, _hash(token), {"id": request.id}, ttl + GRACE)
    payload = str(current_app.config["IDP_ISSUER"]).rstrip("/") + QR_PREFIX + token
    return Started(request=request, secret=secret, qr_payload=payload)


def start_push(
    *,
    citizen_id: str,
    channel: str,
    place: str,
    client_name: str | None,
    required_acr: str | None,
    purpose: str,
    interaction_uid: str | None = None,
) -> Started:
    """A request pushed to the citizen's devices. Raises ApprovalsLocked or
    TooManyRequests."""
    store = current_store()
    locked_for = store.ttl(LOCK, citizen_id)
    if locked_for > 0:
        raise ApprovalsLocked(resets_in=locked_for)
    pending = [r for r in _pending_of(citizen_id) if r.kind == Kind.PUSH]
    if len(pending) >= int(current_app.config["IDP_APP_PUSH_MAX_PENDING"]):
        raise TooManyRequests(resets_in=max(1, int(min(r.expires_at for r in pending) - now())))
    if store.incr(HOURLY, citizen_id, 3600) > int(current_app.config["IDP_APP_PUSH_PER_HOUR"]):
        raise TooManyRequests(resets_in=max(1, store.ttl(HOURLY, citizen_id)))
    ttl = _ttl("IDP_APP_PUSH_TTL")
    request, secret = _new(
        Kind.PUSH,
        ttl,
        channel=channel,
        place=place[:120],
        client_name=client_name,
        required_acr=required_acr,
        purpose=purpose,
        interaction_uid=interaction_uid,
        citizen_id=citizen_id,
    )
    store.index_add(PENDING_INDEX, citizen_id, request.id, ttl + GRACE)
    return Started(request=request, secret=secret)


# --- the app's side ---------------------------------------------------------------------------


def scan(*, payload: str, device: Device) -> ApprovalRequest:
    """The app scanned a QR code: the first device to do so gets the request."""
    token = payload.rsplit(QR_PREFIX, 1)[-1] if isinstance(payload, str) else ""
    if not token or len(token) > 64:
        raise UnknownRequest(detail="malformed QR payload")
    entry = current_store().consume(QR_KIND, _hash(token))
    request = get(str(entry["id"])) if entry else None
    if request is None:
        raise UnknownRequest(detail="unknown or used QR code")
    if request.current_status(now()) != Status.PENDING:
        raise RequestExpired(detail="QR request no longer pending")
    scanned = replace(
        request, status=str(Status.SCANNED), citizen_id=device.citizen_id, device_id=device.id
    )
    _save(scanned)
    current_store().index_add(
        PENDING_INDEX, device.citizen_id, request.id, int(request.expires_at - now()) + GRACE
    )
    return scanned


def _pending_of(citizen_id: str) -> list[ApprovalRequest]:
    store = current_store()
    at = now()
    found = []
    for request_id in store.index_members(PENDING_INDEX, citizen_id):
        request = get(request_id)
        if request is None or request.current_status(at) not in (Status.PENDING, Status.SCANNED):
            if request is None or request.current_status(at) == Status.EXPIRED:
                store.index_remove(PENDING_INDEX, citizen_id, request_id)
            continue
        found.append(request)
    return sorted(found, key=lambda r: r.created_at)


def pending_for(device: Device) -> list[ApprovalRequest]:
    """Push requests for the device's citizen, and QR requests this device scanned."""
    return [
        r for r in _pending_of(device.citizen_id) if r.kind == Kind.PUSH or r.device_id == device.id
    ]


def decide(
    *, request_id: str, device: Device, decision: Decision, uv: bool, uvm: str | None
) -> ApprovalRequest:
    """Record the device's signed decision, once."""
    request = get(request_id)
    mine = request is not None and request.citizen_id == device.citizen_id
    if request is None or not mine or (request.kind == Kind.QR and request.device_id != device.id):
        raise UnknownRequest(detail="request unknown or not for this device")
    status = request.current_status(now())
    if status == Status.EXPIRED:
        raise RequestExpired(detail="decided after expiry")
    if status not in (Status.PENDING, Status.SCANNED):
        raise AlreadyDecided(detail="decided twice")
    if current_store().consume(KIND, request.id) is None:  # a concurrent decision won
        raise AlreadyDecided(detail="decided concurrently")
    if decision == Decision.APPROVE:
        methods, level = approval_proof(device, uv=uv, uvm=uvm)
        decided = replace(
            request,
            status=str(Status.APPROVED),
            device_id=device.id,
            methods=[str(m) for m in methods],
            acr=str(level),
            max_acr=str(device.bound_acr),
            decided_at=now(),
        )
    else:
        decided = replace(request, status=str(Status.DENIED), device_id=device.id, decided_at=now())
    _save(decided)
    current_store().index_remove(PENDING_INDEX, device.citizen_id, request.id)
    if decision == Decision.NOT_ME:
        _not_me(decided)
    return decided


def _not_me(request: ApprovalRequest) -> None:
    assert request.citizen_id is not None
    store = current_store()
    lock = int(current_app.config["IDP_APP_NOT_ME_LOCK"])
    store.put(LOCK, request.citizen_id, {"request": request.id}, lock)
    for other in _pending_of(request.citizen_id):
        if other.kind == Kind.PUSH and store.consume(KIND, other.id) is not None:
            _save(replace(other, status=str(Status.DENIED), decided_at=now()))
            store.index_remove(PENDING_INDEX, request.citizen_id, other.id)
    alerts.record(
        citizen_id=request.citizen_id,
        kind=alerts.NOT_ME,
        detail={
            "client_name": request.client_name or "",
            "channel": request.channel,
            "place": request.place,
            "locked_until": int(time.time()) + lock,
        },
    )


def locked_for(citizen_id: str) -> int:
    """Seconds until push requests are accepted again for the citizen (0: not locked)."""
    return current_store().ttl(LOCK, citizen_id)


# --- the waiting browser's side ---------------------------------------------------------------


def _owned(cookie: str | None) -> ApprovalRequest | None:
    """The request behind the browser's cookie ``<id>.<secret>``, if the secret matches."""
    if not cookie or "." not in cookie or len(cookie) > 200:
        return None
    request_id, secret = cookie.split(".", 1)
    request = get(request_id)
    if request is None or request.secret_hash is None:
        return None
    if not hmac.compare_digest(request.secret_hash, _hash(secret)):
        return None
    return request


def status(cookie: str | None, *, interaction_uid: str | None) -> Status | None:
    """The status for the browser holding ``cookie``; None: not its request."""
    request = _owned(cookie)
    if request is None or request.interaction_uid != interaction_uid:
        return None
    return request.current_status(now())


def claim(cookie: str | None, *, interaction_uid: str | None) -> Approved | None:
    """The approved result, once; None if not approved (yet), expired or not its own."""
    request = _owned(cookie)
    if request is None or request.interaction_uid != interaction_uid:
        return None
    if request.current_status(now()) != Status.APPROVED:
        return None
    if current_store().consume(KIND, request.id) is None:
        return None
    assert request.citizen_id and request.device_id and request.acr
    device = db.session.get(DeviceKey, request.device_id)
    if device is None or device.citizen_id != request.citizen_id:
        return None  # unbound since it approved: its approval no longer counts
    return Approved(
        citizen_id=request.citizen_id,
        device_id=request.device_id,
        methods=tuple(Amr(m) for m in request.methods),
        acr=Acr(request.acr),
        max_acr=Acr(request.max_acr or request.acr),
        decided_at=float(request.decided_at or now()),
    )


def cancel(cookie: str | None) -> None:
    """The browser gave up (started again, chose another way)."""
    request = _owned(cookie)
    if request is not None:
        current_store().delete(KIND, request.id)
        if request.citizen_id:
            current_store().index_remove(PENDING_INDEX, request.citizen_id, request.id)


def portal_name(client_id: str | None) -> str | None:
    """The name of the portal an interaction is for (shown in the app)."""
    if not client_id:
        return None
    client = db.session.get(OAuthClient, client_id)
    return client.name if client is not None else None


def cookie_value(started: Started) -> str:
    return f"{started.request.id}.{started.secret}"
