"""Approval requests: the record, its states and errors, storage, and the clock."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any

from flask import current_app

from ...errors import IdpError
from ...errors import TooManyAttempts
from ...store import current_store
from ..result import Acr
from ..result import Amr

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


def digest(value: str) -> str:
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
    # CIBA (hotline): what the agent reads out (CIBA Core 7.1 binding_message) and who the
    # agent is (display name), both shown in the app.
    binding_message: str | None = None
    agent: str | None = None

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
            "binding_message": self.binding_message,
            "agent": self.agent,
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


def ttl_of(name: str) -> int:
    return max(1, min(int(current_app.config[name]), MAX_TTL))


def save(request: ApprovalRequest) -> None:
    remaining = int(request.expires_at - now()) + GRACE
    current_store().put(KIND, request.id, asdict(request), max(1, remaining))


def get(request_id: str) -> ApprovalRequest | None:
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
        return None
    data = current_store().get(KIND, request_id)
    return ApprovalRequest(**data) if data else None


def new_request(kind: Kind, ttl: int, **fields: Any) -> tuple[ApprovalRequest, str]:
    at = now()
    secret = secrets.token_urlsafe(32)
    request = ApprovalRequest(
        id=secrets.token_urlsafe(18),
        kind=str(kind),
        status=str(Status.PENDING),
        created_at=at,
        expires_at=at + ttl,
        match=f"{secrets.randbelow(100):02d}",
        secret_hash=digest(secret),
        **fields,
    )
    save(request)
    return request, secret


def pending_of(citizen_id: str) -> list[ApprovalRequest]:
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
