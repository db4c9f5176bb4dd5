"""A citizen's registered credentials: the list the account page shows, names, removal,
and the one opaque user handle shared by all of them."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...errors import InvalidInput
from ...extensions import db
from ...models import WebAuthnCredential
from ...models import WebAuthnUser
from .. import authenticator_limits
from ..methods import webauthn
from ..sessions import SsoSession
from .errors import UnknownPasskey
from .policy import require_fresh

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class Passkey:
    """One credential as the account page shows it."""

    id: str
    name: str
    synced: bool  # backup eligible: a passkey copied between the citizen's devices
    backed_up: bool
    discoverable: bool
    user_verifying: bool  # user verification at registration
    transports: tuple[str, ...]
    aaguid: str
    created_at: datetime
    last_used_at: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    blocked: bool  # too many failures (``authenticator_limits``): a service hall re-enables
    bound_in_person: bool  # enrolled with a code from a service-hall counter (``hall_passkeys``)


def rows(citizen_id: str) -> list[WebAuthnCredential]:
    return list(
        db.session.scalars(
            select(WebAuthnCredential)
            .where(WebAuthnCredential.citizen_id == citizen_id)
            .order_by(WebAuthnCredential.created_at)
        )
    )


def view(row: WebAuthnCredential) -> Passkey:
    return Passkey(
        id=row.id,
        name=row.name,
        synced=row.backup_eligible,
        backed_up=row.backed_up,
        discoverable=row.discoverable,
        user_verifying=row.uv_initialized,
        transports=tuple(row.transports or ()),
        aaguid=row.aaguid,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        blocked=authenticator_limits.is_disabled(authenticator=f"webauthn:{row.id}"),
        bound_in_person=bool(row.bound_in_person),
    )


def list_passkeys(*, citizen_id: str) -> list[Passkey]:
    return [view(row) for row in rows(citizen_id)]


def has_passkeys(*, citizen_id: str) -> bool:
    """True when the citizen has a credential that can still sign in."""
    count = db.session.scalar(
        select(func.count())
        .select_from(WebAuthnCredential)
        .where(
            WebAuthnCredential.citizen_id == citizen_id,
            WebAuthnCredential.disabled_at.is_(None),
        )
    )
    return bool(count)


def owned(citizen_id: str, passkey_id: str) -> WebAuthnCredential:
    row = db.session.get(WebAuthnCredential, passkey_id) if len(passkey_id) <= 36 else None
    if row is None or row.citizen_id != citizen_id:
        raise UnknownPasskey(detail="passkey not found for this citizen")
    return row


def clean_name(name: str) -> str:
    """A credential's name: 1 to 64 printable characters, spaces collapsed."""
    text = " ".join(unicodedata.normalize("NFC", name or "").split())
    if not text or len(text) > MAX_NAME_LENGTH:
        raise InvalidInput("The name must be 1 to 64 characters long.", field="name")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput("The name cannot contain control characters.", field="name")
    return text


def rename(*, citizen_id: str, passkey_id: str, name: str) -> Passkey:
    row = owned(citizen_id, passkey_id)
    row.name = clean_name(name)
    db.session.commit()
    return view(row)


def remove(*, session: SsoSession, passkey_id: str) -> Passkey:
    """Remove one of the session citizen's credentials. Raises FreshSignInRequired."""
    require_fresh(session)
    row = owned(session.citizen_id, passkey_id)
    removed = view(row)
    db.session.delete(row)
    db.session.commit()
    log.info("citizen %s removed WebAuthn credential %s", session.citizen_id, passkey_id)
    return removed


def user_handle(citizen_id: str, *, create: bool) -> bytes | None:
    user = db.session.get(WebAuthnUser, citizen_id)
    if user is not None or not create:
        return user.user_handle if user else None
    db.session.add(WebAuthnUser(citizen_id=citizen_id, user_handle=webauthn.new_user_handle()))
    try:
        db.session.commit()
    except IntegrityError:  # two first registrations at once: the other handle stands
        db.session.rollback()
    user = db.session.get(WebAuthnUser, citizen_id)
    assert user is not None
    return user.user_handle


def descriptors(rows: list[WebAuthnCredential]) -> list[webauthn.Descriptor]:
    return [
        webauthn.Descriptor(credential_id=r.credential_id, transports=tuple(r.transports or ()))
        for r in rows
    ]
