"""The authenticator models admitted to high: the AAGUID allow-list (issue 6).

The *effective* list is the union of two sources:

- the ``high_authenticator_model`` table, which operators manage in the console
  (``/admin/authenticators``) or with ``idp aaguids``; removal is recorded on the row;
- the ``IDP_WEBAUTHN_HIGH_AAGUIDS`` setting, for bootstrapping and for deployments
  managed as code. The console shows these entries but cannot remove them.

Both empty means any model (``policy.admitted_to_high``). So the first model listed
narrows high to the listed models, and removing the last one opens it to every model
again: ``remove`` refuses that unless the caller says ``open_to_any``. The check and
the removal hold the live rows (``_lock_live_rows``), so two admins removing the last
two models at the same moment cannot both pass it: the second sees the first's removal.

The list is read at passkey sign-in and when a session's reachable level is assessed,
never on the token path. Each process keeps a copy, checked on every use against a
*generation* value in the ephemeral store (Redis in production, shared by every
process), as ``idp.oauth.client_cache`` does: ``add`` and ``remove`` replace the value
after their commit, so every process re-reads the table on its very next use. The
generation is read before the rows, so a copy loaded across a change carries the old
value and is dropped on its next use; should the store lose the value, a copy lives at
most ``CACHE_SECONDS``.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ...errors import InvalidInput
from ...extensions import db
from ...models import HighAuthenticatorModel
from ...models._types import utcnow
from ...store import current_store

GENERATION_KIND = "aaguid-generation"
GENERATION_ID = "all"
GENERATION_TTL = 365 * 24 * 3600  # far longer than CACHE_SECONDS
CACHE_SECONDS = 60.0
EXTENSION_KEY = "idp.aaguid_allowlist"

MAX_LABEL_LENGTH = 100
# WebAuthn 3 section 6.5.1: the AAGUID is 16 bytes; written as a UUID (RFC 9562).
_AAGUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Reported by authenticators (and clients, for attestation "none") that hide their
# model: allowing it would admit every such authenticator, whatever it is.
ZERO_AAGUID = "00000000-0000-0000-0000-000000000000"

CONSOLE = "console"
CONFIGURATION = "configuration"


class AlreadyListed(InvalidInput):
    public = "This authenticator model is already on the list."

    def __init__(self) -> None:
        super().__init__(self.public, field="aaguid")


class LastModelRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "This is the last model on the list: without it every authenticator model "
            "reaches high. Confirm that to remove it.",
            field="open_to_any",
        )


@dataclass(frozen=True)
class AllowedModel:
    aaguid: str
    label: str
    source: str  # CONSOLE (a table row) or CONFIGURATION (the setting)
    added_by: str | None = None
    added_at: datetime | None = None
    removed_by: str | None = None
    removed_at: datetime | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "aaguid": self.aaguid,
            "label": self.label,
            "source": self.source,
            "added_by": self.added_by,
            "added_at": self.added_at.isoformat() if self.added_at else None,
            "removed_by": self.removed_by,
            "removed_at": self.removed_at.isoformat() if self.removed_at else None,
        }


# --- input ----------------------------------------------------------------------------------


def clean_aaguid(value: object) -> str:
    """An AAGUID as 8-4-4-4-12 hex digits (either case), lower-cased as authenticators'
    are stored (``WebAuthnCredential.aaguid``)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput("The AAGUID is required.", field="aaguid")
    if not _AAGUID.match(text):
        raise InvalidInput(
            "The AAGUID must be 32 hexadecimal digits in the form "
            "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.",
            field="aaguid",
        )
    if text == ZERO_AAGUID:
        raise InvalidInput(
            "The all-zero AAGUID names no model (authenticators that hide their model "
            "report it) and cannot be allowed.",
            field="aaguid",
        )
    return text


def clean_label(value: object) -> str:
    """1 to 100 printable characters, spaces collapsed."""
    text = " ".join(unicodedata.normalize("NFC", value if isinstance(value, str) else "").split())
    if not text:
        raise InvalidInput("The label is required.", field="label")
    if len(text) > MAX_LABEL_LENGTH:
        raise InvalidInput("The label must be at most 100 characters long.", field="label")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput("The label cannot contain control characters.", field="label")
    return text


# --- the list -------------------------------------------------------------------------------


def configured() -> frozenset[str]:
    """The ``IDP_WEBAUTHN_HIGH_AAGUIDS`` setting, lower-cased."""
    return frozenset(
        str(a).strip().lower() for a in current_app.config["IDP_WEBAUTHN_HIGH_AAGUIDS"] if a
    )


def _view(row: HighAuthenticatorModel) -> AllowedModel:
    return AllowedModel(
        aaguid=row.aaguid,
        label=row.label,
        source=CONSOLE,
        added_by=row.added_by,
        added_at=row.added_at,
        removed_by=row.removed_by,
        removed_at=row.removed_at,
    )


def _live_row(aaguid: str) -> HighAuthenticatorModel | None:
    return db.session.scalars(
        select(HighAuthenticatorModel).where(
            HighAuthenticatorModel.aaguid == aaguid, HighAuthenticatorModel.removed_at.is_(None)
        )
    ).first()


def _lock_live_rows() -> list[HighAuthenticatorModel]:
    """Every live row, held until the transaction ends: two removals at the same moment
    must not both see the other's model still listed and leave the list empty (open to
    any model). PostgreSQL locks the rows (``FOR UPDATE``, in id order so two callers
    never deadlock; under READ COMMITTED a row another removal changed meanwhile is read
    again, and left out). SQLite has no row locks: a no-op UPDATE first takes the
    database write lock (as ``idp.audit.chain.lock_head``), so the read that follows is
    a single writer's."""
    live = HighAuthenticatorModel.removed_at.is_(None)
    query = (
        select(HighAuthenticatorModel)
        .where(live)
        .order_by(HighAuthenticatorModel.id)
        .execution_options(populate_existing=True)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    else:
        db.session.execute(
            update(HighAuthenticatorModel)
            .where(live)
            .values(label=HighAuthenticatorModel.label)
            .execution_options(synchronize_session=False)
        )
    return list(db.session.scalars(query))


def listed() -> list[AllowedModel]:
    """Every live table row (oldest first), then the setting's entries not in the table."""
    rows = db.session.scalars(
        select(HighAuthenticatorModel)
        .where(HighAuthenticatorModel.removed_at.is_(None))
        .order_by(HighAuthenticatorModel.added_at)
    )
    models = [_view(row) for row in rows]
    in_table = {m.aaguid for m in models}
    models += [
        AllowedModel(aaguid=a, label="", source=CONFIGURATION)
        for a in sorted(configured() - in_table)
    ]
    return models


def removed(limit: int = 50) -> list[AllowedModel]:
    """The most recent removals, newest first."""
    rows = db.session.scalars(
        select(HighAuthenticatorModel)
        .where(HighAuthenticatorModel.removed_at.is_not(None))
        .order_by(HighAuthenticatorModel.removed_at.desc())
        .limit(limit)
    )
    return [_view(row) for row in rows]


def add(*, aaguid: object, label: object, by: str) -> AllowedModel:
    """Allow one model. Raises InvalidInput (bad field) or AlreadyListed."""
    clean = clean_aaguid(aaguid)
    text = clean_label(label)
    if _live_row(clean) is not None:
        raise AlreadyListed()
    row = HighAuthenticatorModel(aaguid=clean, label=text, added_by=by[:80], added_at=utcnow())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same model added at the same moment elsewhere
        db.session.rollback()
        raise AlreadyListed() from None
    _changed()
    return _view(row)


def remove(*, aaguid: object, by: str, open_to_any: bool = False) -> AllowedModel:
    """Take one model off the table (the row stays, marked removed). Raises InvalidInput
    (bad AAGUID), LookupError (not on the table) or LastModelRequired."""
    clean = clean_aaguid(aaguid)
    live = _lock_live_rows()
    row = next((r for r in live if r.aaguid == clean), None)
    if row is None:
        db.session.rollback()  # and the lock with it
        raise LookupError(clean)
    if len(live) == 1 and not configured() and not open_to_any:
        db.session.rollback()
        raise LastModelRequired()
    row.removed_at = utcnow()
    row.removed_by = by[:80]
    db.session.commit()
    _changed()
    return _view(row)


# --- the effective list, cached per process -------------------------------------------------


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (generation it was loaded under, loaded at (monotonic), live AAGUIDs): one
        # attribute, so a thread sees the old or the new whole.
        self.loaded: tuple[str | None, float, frozenset[str]] | None = None


def _cache() -> _Cache:
    cache: _Cache | None = current_app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(EXTENSION_KEY, _Cache())
    return cache


def _generation() -> str | None:
    stored = current_store().get(GENERATION_KIND, GENERATION_ID)
    return str(stored["v"]) if stored else None


def _changed() -> None:
    """After a committed change: this process and every other one re-read the table on
    their next use."""
    _cache().loaded = None
    current_store().put(GENERATION_KIND, GENERATION_ID, {"v": secrets.token_hex(8)}, GENERATION_TTL)


def _table() -> frozenset[str]:
    cache = _cache()
    generation = _generation()  # before the rows: see the module docstring
    loaded = cache.loaded
    if (
        loaded is not None
        and loaded[0] == generation
        and time.monotonic() - loaded[1] < CACHE_SECONDS
    ):
        return loaded[2]
    with cache.lock:
        aaguids = frozenset(
            db.session.scalars(
                select(HighAuthenticatorModel.aaguid).where(
                    HighAuthenticatorModel.removed_at.is_(None)
                )
            )
        )
        cache.loaded = (generation, time.monotonic(), aaguids)
    return aaguids


def effective() -> frozenset[str]:
    """The models admitted to high: the table's and the setting's (empty = any)."""
    return _table() | configured()
