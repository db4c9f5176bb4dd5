"""A per-process cache of registered clients, busted across processes at once.

Every token, introspection, UserInfo and authorization request needs the client's
registration; reading it from the database each time was the largest single cost of
the hot path (issue 7 profile). Each process keeps a read-only copy of each client it
has seen (``ClientRecord``) for at most ``IDP_CLIENT_CACHE_SECONDS``.

Invalidation: one *generation* value in the ephemeral store (Redis in production, so
shared by every process; ``idp.oauth.generations``). Any committed change to a client
row (ORM flush or an ``UPDATE`` / ``DELETE`` statement on ``oauth_client`` through a
session) replaces it with a fresh random value after the commit. Every lookup checks
the generation first (read once per request, in the same round trip as the signing
keys' generation) and uses a cached copy only if it was loaded under the same
generation: a disabled client is refused by every process on its very next request,
warm cache or not. The generation is read before the row, so a copy loaded across a
change is stamped with the old generation and dropped on the next lookup.

The generation key outlives the local lifetime by far (``generations.GENERATION_TTL``);
if the store ever loses it, copies live at most ``IDP_CLIENT_CACHE_SECONDS``. Code that
writes ``oauth_client`` outside a SQLAlchemy session must call ``bump()`` after
committing.
"""

from __future__ import annotations

import copy
import threading
import time
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask import current_app
from flask import has_app_context
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session
from sqlalchemy.orm import UOWTransaction

from ..extensions import db
from ..models import OAuthClient
from . import generations

EXTENSION_KEY = "idp.client_cache"
MAX_ENTRIES = 10_000
_CHANGED = "idp.clients_changed"
_TABLE = OAuthClient.__table__


class ClientRecord(SimpleNamespace):
    """A read-only copy of one ``oauth_client`` row: the same attribute names as
    ``OAuthClient``, no session, safe to share between requests and threads."""

    @property
    def is_public(self) -> bool:
        return bool(self.token_endpoint_auth_method == "none")


class ClientCache:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        # client_id -> (generation, loaded at (monotonic), record)
        self.entries: dict[str, tuple[str | None, float, ClientRecord]] = {}


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = ClientCache(float(app.config["IDP_CLIENT_CACHE_SECONDS"]))


def _cache() -> ClientCache:
    cache: ClientCache | None = current_app.extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(
            EXTENSION_KEY, ClientCache(float(current_app.config["IDP_CLIENT_CACHE_SECONDS"]))
        )
    return cache


def generation() -> str | None:
    # Once per request (a token request asks for its client several times): one answer
    # per request is what reading the row once at the start of the request would give.
    return generations.current(generations.CLIENTS)


def bump() -> None:
    """Every process drops its copies on its next lookup (call after the commit)."""
    generations.replace(generations.CLIENTS)
    _cache().entries.clear()


def load(client_id: str) -> ClientRecord | None:
    """The client's registration (enabled or not), from the cache when still current."""
    cache = _cache()
    current = generation()  # before the row: see the module docstring
    now = time.monotonic()
    entry = cache.entries.get(client_id)
    if (
        cache.seconds > 0
        and entry is not None
        and entry[0] == current
        and now - entry[1] < cache.seconds
    ):
        return entry[2]
    row = (
        db.session.connection()
        .execute(select(_TABLE).where(_TABLE.c.client_id == client_id))
        .first()
    )
    if row is None:
        # Unknown ids are not cached: a flood of made-up ids cannot fill the memory.
        cache.entries.pop(client_id, None)
        return None
    record = ClientRecord(**copy.deepcopy(dict(row._mapping)))
    if cache.seconds > 0:
        with cache.lock:
            if len(cache.entries) >= MAX_ENTRIES:
                cache.entries.clear()
            cache.entries[client_id] = (current, now, record)
    return record


# -- change detection --------------------------------------------------------------------


def _mark_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, OAuthClient):
            session.info[_CHANGED] = True
            return


def _mark_statement(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and getattr(state.statement, "table", None) is _TABLE:
        state.session.info[_CHANGED] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False) and has_app_context():
        bump()


def listen() -> None:
    """Watch every SQLAlchemy session for client changes (once per process)."""
    if event.contains(Session, "after_commit", _after_commit):
        return
    event.listen(Session, "before_flush", _mark_flush)
    event.listen(Session, "do_orm_execute", _mark_statement)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    # A change rolled back never happened: nothing to bust.
    if previous_transaction.parent is None:
        session.info.pop(_CHANGED, None)
