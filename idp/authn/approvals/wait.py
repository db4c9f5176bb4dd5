"""The waiting browser's side: following its request and claiming the approval once."""

from __future__ import annotations

import hmac

from ...extensions import db
from ...models import DeviceKey
from ...store import current_store
from ..result import Acr
from ..result import Amr
from .model import KIND
from .model import PENDING_INDEX
from .model import ApprovalRequest
from .model import Approved
from .model import Started
from .model import Status
from .model import digest
from .model import get
from .model import now


def _owned(cookie: str | None) -> ApprovalRequest | None:
    """The request behind the browser's cookie ``<id>.<secret>``, if the secret matches."""
    if not cookie or "." not in cookie or len(cookie) > 200:
        return None
    request_id, secret = cookie.split(".", 1)
    request = get(request_id)
    if request is None or request.secret_hash is None:
        return None
    if not hmac.compare_digest(request.secret_hash, digest(secret)):
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


def cookie_value(started: Started) -> str:
    return f"{started.request.id}.{started.secret}"
