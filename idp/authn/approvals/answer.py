"""The app's side: scanning a QR code, the pending list, and the signed decision."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from flask import Flask
from flask import current_app

from ...store import current_store
from .. import alerts
from ..devices import Device
from ..devices import approval_proof
from .model import GRACE
from .model import KIND
from .model import LOCK
from .model import PENDING_INDEX
from .model import QR_KIND
from .model import QR_PREFIX
from .model import AlreadyDecided
from .model import ApprovalRequest
from .model import Decision
from .model import Kind
from .model import RequestExpired
from .model import Status
from .model import UnknownRequest
from .model import digest
from .model import get
from .model import now
from .model import pending_of
from .model import save

log = logging.getLogger(__name__)


def scan(*, payload: str, device: Device) -> ApprovalRequest:
    """The app scanned a QR code: the first device to do so gets the request."""
    token = payload.rsplit(QR_PREFIX, 1)[-1] if isinstance(payload, str) else ""
    if not token or len(token) > 64:
        raise UnknownRequest(detail="malformed QR payload")
    entry = current_store().consume(QR_KIND, digest(token))
    request = get(str(entry["id"])) if entry else None
    if request is None:
        raise UnknownRequest(detail="unknown or used QR code")
    if request.current_status(now()) != Status.PENDING:
        raise RequestExpired(detail="QR request no longer pending")
    scanned = replace(
        request, status=str(Status.SCANNED), citizen_id=device.citizen_id, device_id=device.id
    )
    save(scanned)
    current_store().index_add(
        PENDING_INDEX, device.citizen_id, request.id, int(request.expires_at - now()) + GRACE
    )
    return scanned


def pending_for(device: Device) -> list[ApprovalRequest]:
    """Push requests for the device's citizen, and QR requests this device scanned."""
    return [
        r for r in pending_of(device.citizen_id) if r.kind == Kind.PUSH or r.device_id == device.id
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
    # Checked before the request is taken: a malformed approval leaves it pending.
    methods, level = approval_proof(device, uv=uv, uvm=uvm)
    if current_store().consume(KIND, request.id) is None:  # a concurrent decision won
        raise AlreadyDecided(detail="decided concurrently")
    if decision == Decision.APPROVE:
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
    save(decided)
    current_store().index_remove(PENDING_INDEX, device.citizen_id, request.id)
    if decision == Decision.NOT_ME:
        _not_me(decided)
    _tell_listeners(decided)
    return decided


# Who is told when a request is decided (the CIBA ping, idp.oauth.ciba): listeners live
# in the application, as in ``idp.authn.session_events``; one that raises is logged.
LISTENERS = "idp.approval_decided"
Listener = Callable[[ApprovalRequest], None]


def subscribe(app: Flask, listener: Listener) -> None:
    listeners: list[Listener] = app.extensions.setdefault(LISTENERS, [])
    if listener not in listeners:
        listeners.append(listener)


def _tell_listeners(request: ApprovalRequest) -> None:
    for listener in list(current_app.extensions.get(LISTENERS, ())):
        try:
            listener(request)
        except Exception:  # a listener's failure never undoes the decision
            log.exception("approval listener %r failed", listener)


def _not_me(request: ApprovalRequest) -> None:
    assert request.citizen_id is not None
    store = current_store()
    lock = int(current_app.config["IDP_APP_NOT_ME_LOCK"])
    store.put(LOCK, request.citizen_id, {"request": request.id}, lock)
    for other in pending_of(request.citizen_id):
        if other.kind == Kind.PUSH and store.consume(KIND, other.id) is not None:
            save(replace(other, status=str(Status.DENIED), decided_at=now()))
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
