"""One function every admin action and every refusal goes through.

For now a structured log line (logger ``idp.admin.events``, JSON) with no ID number and
no secret: targets are internal ids (client id, citizen row id, kid, staff id), and
``before``/``after`` are the services' operator views, which hold neither. When the
audit trail (``idp.audit``) is merged, this function forwards to ``idp.audit.record``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .authz import Actor

log = logging.getLogger("idp.admin.events")

SUCCESS = "success"
REFUSED = "refused"
FAILED = "failed"

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
) -> dict[str, Any]:
    """Record one admin action or refusal; returns the record (tests read it)."""
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
    log.info(json.dumps(record, ensure_ascii=False, default=str, sort_keys=True))
    return record
