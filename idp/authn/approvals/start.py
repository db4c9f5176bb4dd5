"""Starting approval requests: a QR sign-in, or a push to the citizen's devices."""

from __future__ import annotations

import secrets

from flask import current_app

from ...extensions import db
from ...models import OAuthClient
from ...store import current_store
from .model import GRACE
from .model import HOURLY
from .model import LOCK
from .model import PENDING_INDEX
from .model import QR_KIND
from .model import QR_PREFIX
from .model import ApprovalsLocked
from .model import Kind
from .model import Started
from .model import TooManyRequests
from .model import digest
from .model import new_request
from .model import now
from .model import pending_of
from .model import ttl_of


def start_qr(
    *,
    channel: str,
    place: str,
    client_name: str | None,
    required_acr: str | None,
    interaction_uid: str | None,
) -> Started:
    """A QR sign-in for a browser (or kiosk) that does not know the citizen yet."""
    ttl = ttl_of("IDP_APP_QR_TTL")
    request, secret = new_request(
        Kind.QR,
        ttl,
        channel=channel,
        place=place[:120],
        client_name=client_name,
        required_acr=required_acr,
        interaction_uid=interaction_uid,
    )
    token = secrets.token_urlsafe(24)
    current_store().put(QR_KIND, digest(token), {"id": request.id}, ttl + GRACE)
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
    binding_message: str | None = None,
    agent: str | None = None,
) -> Started:
    """A request pushed to the citizen's devices. Raises ApprovalsLocked or
    TooManyRequests."""
    store = current_store()
    locked_for = store.ttl(LOCK, citizen_id)
    if locked_for > 0:
        raise ApprovalsLocked(resets_in=locked_for)
    pending = [r for r in pending_of(citizen_id) if r.kind == Kind.PUSH]
    if len(pending) >= int(current_app.config["IDP_APP_PUSH_MAX_PENDING"]):
        raise TooManyRequests(resets_in=max(1, int(min(r.expires_at for r in pending) - now())))
    if store.incr(HOURLY, citizen_id, 3600) > int(current_app.config["IDP_APP_PUSH_PER_HOUR"]):
        raise TooManyRequests(resets_in=max(1, store.ttl(HOURLY, citizen_id)))
    ttl = ttl_of("IDP_APP_PUSH_TTL")
    request, secret = new_request(
        Kind.PUSH,
        ttl,
        channel=channel,
        place=place[:120],
        client_name=client_name,
        required_acr=required_acr,
        purpose=purpose,
        interaction_uid=interaction_uid,
        citizen_id=citizen_id,
        binding_message=binding_message,
        agent=agent,
    )
    store.index_add(PENDING_INDEX, citizen_id, request.id, ttl + GRACE)
    return Started(request=request, secret=secret)


def portal_name(client_id: str | None) -> str | None:
    """The name of the portal an interaction is for (shown in the app)."""
    if not client_id:
        return None
    client = db.session.get(OAuthClient, client_id)
    return client.name if client is not None else None
