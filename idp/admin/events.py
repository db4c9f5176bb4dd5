"""One function every admin action and every refusal goes through.

Each is one record on the tamper-evident audit trail (``idp.audit``, event
``admin.<action>``, actor type ``staff``) and the same as a structured log line (logger
``idp.admin.events``, JSON). Neither holds an ID number or a secret: targets are internal
ids (client id, citizen row id, kid, staff id), and ``before``/``after`` are the
services' operator views, which hold neither (secret-named keys are redacted anyway).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from .. import audit
from ..audit import ActorType
from ..errors import IdpError
from ..extensions import db

if TYPE_CHECKING:
    from .authz import Actor

log = logging.getLogger("idp.admin.events")

SUCCESS = "success"
REFUSED = "refused"
FAILED = "failed"


class AuditUnavailable(IdpError):
    """The record of a change could not be written, so the change was rolled back with
    it: nothing changed (an action without its record would be unaudited)."""

    public = "Nothing was saved: the audit trail could not be written. Try again."


# Never logged, whatever a caller passes in before/after.
_SECRET_KEYS = {"secret", "client_secret", "client_secret_hash", "token", "token_hash", "code"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("[redacted]" if k in _SECRET_KEYS else _clean(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def admin_event(
    actor: Actor | None,
    action: str,
    target: str,
    outcome: str,
    *,
    before: Any = None,
    after: Any = None,
    detail: str = "",
    pending: bool = False,
) -> dict[str, Any]:
    """Record one admin action or refusal; returns the record (tests read it).

    ``pending``: the action's change is flushed, not committed, and commits with this
    record or not at all; if the record cannot be written both are rolled back and
    ``AuditUnavailable`` is raised."""
    record = {
        "event": "admin." + action,
        "at": datetime.now(UTC).isoformat(),
        "actor": actor.staff_id if actor else None,
        "actor_username": actor.username if actor else None,
        "via": actor.via if actor else None,
        "ip": actor.ip if actor else None,
        "target": target,
        "outcome": outcome,
        "detail": detail[:200],
    }
    if before is not None:
        record["before"] = _clean(before)
    if after is not None:
        record["after"] = _clean(after)
    line = json.dumps(record, ensure_ascii=False, default=str, sort_keys=True)
    if pending:
        _pending(json.loads(line))
        log.info(line)  # only once it is saved: a rolled-back change was not made
    else:
        log.info(line)
        _append(json.loads(line))
    return record


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    """``audit.record``'s arguments for one admin record, committing the transaction."""
    return {
        "outcome": "failure" if record["outcome"] == FAILED else record["outcome"],
        "actor_type": ActorType.STAFF if record["actor"] else ActorType.ANONYMOUS,
        "actor_id": record["actor"],
        "ip": record["ip"],
        "details": {
            k: record[k] for k in ("target", "via", "detail", "before", "after") if k in record
        },
        "commit": True,
    }


def _append(record: dict[str, Any]) -> None:
    """The record on the trail, committed with whatever the action left pending (a
    refusal has nothing pending). A transaction the action broke is rolled back first,
    so the refusal is still recorded."""
    fields = _fields(record)
    try:
        audit.record(record["event"], **fields)
    except SQLAlchemyError:
        db.session.rollback()
        audit.record(record["event"], **fields)


def _pending(record: dict[str, Any]) -> None:
    """The record committed in the transaction that holds the action's change; if it
    cannot be written, neither is the change (``AuditUnavailable``)."""
    try:
        audit.record(record["event"], **_fields(record))
    except Exception as exc:
        # No retry after the rollback (as ``_append`` does): the rollback took the
        # change with it, and a record of a change that was never made would be false.
        db.session.rollback()
        log.error("%s not saved: its audit record failed (%s)", record["event"], type(exc).__name__)
        raise AuditUnavailable(detail=type(exc).__name__) from exc
