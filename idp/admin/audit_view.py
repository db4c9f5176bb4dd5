"""The audit trail as auditors see it (issue 6: "Auditors search the trail in the console
by citizen, client, staff member, event type and time"; the auditor role's "audit
verification").

Both views need ``audit:read`` (auditors and administrators); any other role is refused
and the refusal recorded, as everywhere in ``idp.admin``. Input comes as plain strings
(a query string, a form or a JSON body) and is checked here, so the console and the API
refuse the same things with the same messages.

A citizen is searched by internal id or by ID number. The number goes through
``audit.search``'s blind-index lookup, is never logged or put in a URL, and comes back
only masked (``idp.ids.redact``); the next page is asked for by internal id.

Searching is recorded (``admin.audit.search``: reading the trail reads personal data);
verifying only reads: it changes nothing and appends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .. import audit
from ..audit import Outcome
from ..authn.staff.roles import Permission
from ..errors import InvalidInput
from ..extensions import db
from ..ids import InvalidIdNumber
from ..ids import redact
from ..models import Staff
from .authz import Actor
from .authz import require
from .events import SUCCESS
from .events import admin_event
from .fields import row_id

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
FIELDS = (
    "citizen_id",
    "id_number",
    "client_id",
    "actor_id",
    "staff",
    "event",
    "outcome",
    "since",
    "until",
    "before_seq",
    "limit",
)
_MAX_TEXT = 100  # a client id, staff id or event name is far shorter


@dataclass(frozen=True)
class Filters:
    citizen_id: str | None = None
    id_number: str | None = None
    client_id: str | None = None
    actor_id: str | None = None
    events: tuple[str, ...] = ()
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_seq: int | None = None
    limit: int = PAGE_SIZE

    def public(self) -> dict[str, Any]:
        """The filters as shown back and recorded: the ID number masked."""
        return {
            "citizen_id": self.citizen_id,
            "id_number_masked": redact(self.id_number) if self.id_number else None,
            "client_id": self.client_id,
            "actor_id": self.actor_id,
            "event": ",".join(self.events) or None,
            "outcome": self.outcome,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "before_seq": self.before_seq,
            "limit": self.limit,
        }


def _text(raw: Mapping[str, Any], name: str, limit: int = _MAX_TEXT) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string.", field=name)
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{name} is too long.", field=name)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        # PostgreSQL refuses NUL in text; no id or name holds control characters.
        raise InvalidInput(f"{name} holds control characters.", field=name)
    return value or None


def _time(raw: Mapping[str, Any], name: str) -> datetime | None:
    value = _text(raw, name, 40)
    if value is None:
        return None
    try:
        # ISO 8601 / RFC 3339 (a date alone means its midnight); no offset means UTC.
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time, e.g. 2026-01-31T08:00:00Z.", field=name
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _whole(raw: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a whole number.", field=name)
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 12:
            raise InvalidInput(f"{name} must be a whole number.", field=name)
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}.", field=name)
    return value


def _events(raw: Mapping[str, Any]) -> tuple[str, ...]:
    value = raw.get("event")
    items: list[Any]
    if isinstance(value, list):
        items = value
    elif value is None or isinstance(value, str):
        items = (value or "").split(",")
    else:
        raise InvalidInput("event must be a string or a list of strings.", field="event")
    if len(items) > 20:
        raise InvalidInput("At most 20 event types at once.", field="event")
    found = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput("event must be a string or a list of strings.", field="event")
        item = item.strip()
        if not item:
            continue
        # Event names are "<area>.<what>"; "area." (trailing dot) means every event in it.
        if len(item) > 60 or not all(c.isalnum() or c in "._-" for c in item):
            raise InvalidInput(
                "event holds event types (login.failure) or prefixes ending in a dot (login.).",
                field="event",
            )
        found.append(item)
    return tuple(found)


def parse_filters(raw: Mapping[str, Any]) -> Filters:
    """Check the filters of a search; ``InvalidInput`` names the first bad field."""
    unknown = sorted(str(k) for k in raw if k not in FIELDS and k != "csrf_token")
    if unknown:
        raise InvalidInput(
            "Unknown field: " + ", ".join(unknown)[:200] + ".", field=unknown[0][:64]
        )
    citizen_id = _text(raw, "citizen_id", 36)
    if citizen_id is not None and not row_id(citizen_id):
        raise InvalidInput("citizen_id is a citizen's record id.", field="citizen_id")
    outcome = _text(raw, "outcome", 20)
    known = [str(o) for o in Outcome] + ["refused"]
    if outcome is not None and outcome not in known:
        raise InvalidInput("outcome must be one of " + ", ".join(known) + ".", field="outcome")
    actor_id = _text(raw, "actor_id")
    username = _text(raw, "staff", 64)
    if username is not None:
        # A staff member by username: the trail names them by their id.
        member = db.session.scalar(select(Staff.id).where(Staff.username == username))
        if member is None:
            raise InvalidInput("No staff member has this username.", field="staff")
        if actor_id is not None and actor_id != member:
            raise InvalidInput("staff and actor_id name different actors.", field="staff")
        actor_id = member
    filters = Filters(
        citizen_id=citizen_id,
        id_number=_text(raw, "id_number", 40),
        client_id=_text(raw, "client_id"),
        actor_id=actor_id,
        events=_events(raw),
        outcome=outcome,
        since=_time(raw, "since"),
        until=_time(raw, "until"),
        before_seq=_whole(raw, "before_seq", 1, 2**62),
        limit=_whole(raw, "limit", 1, MAX_PAGE_SIZE) or PAGE_SIZE,
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be before until.", field="since")
    return filters


def search(actor: Actor, raw: Mapping[str, Any], *, in_url: bool = False) -> dict[str, Any]:
    """One page of the trail, newest first. ``next_before_seq`` asks for the next page
    (None: this was the last). ``in_url``: the filters came in a query string, where an
    ID number must never be (it would reach access logs and browser history)."""
    require(actor, Permission.AUDIT_READ, action="audit.search")
    if in_url and "id_number" in raw:
        raise InvalidInput(
            "Send the ID number in a form or JSON body (POST), never in a URL.",
            field="id_number",
        )
    filters = parse_filters(raw)
    try:
        rows = audit.search(
            citizen_id=filters.citizen_id,
            id_number=filters.id_number,
            client_id=filters.client_id,
            actor_id=filters.actor_id,
            events=filters.events or None,
            outcome=filters.outcome,
            since=filters.since,
            until=filters.until,
            before_seq=filters.before_seq,
            limit=filters.limit + 1,  # one more tells whether there is a next page
        )
    except InvalidIdNumber:
        raise InvalidInput("This is not a valid ID number.", field="id_number") from None
    except audit.UnknownCitizen:
        admin_event(actor, "audit.search", "-", SUCCESS, detail="no citizen for the number")
        raise InvalidInput("No citizen has this ID number.", field="id_number") from None
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    shown = filters.public()
    if filters.id_number and rows and rows[0].citizen_id:
        # The next page asks by record id: the number is not sent again.
        shown["citizen_id"] = rows[0].citizen_id
    admin_event(actor, "audit.search", shown["citizen_id"] or "-", SUCCESS, after=shown)
    return {
        "filters": shown,
        "records": [r.as_dict() for r in rows],
        "next_before_seq": rows[-1].seq if more and rows else None,
    }


def next_page(result: dict[str, Any]) -> dict[str, Any] | None:
    """The filters that ask for the page after ``result`` (no ID number in them)."""
    if result["next_before_seq"] is None:
        return None
    shown = dict(result["filters"])
    shown.pop("id_number_masked", None)
    shown["before_seq"] = result["next_before_seq"]
    return {k: str(v) for k, v in shown.items() if v is not None}


def verify(actor: Actor) -> dict[str, Any]:
    """Seal pending records, then walk the whole chain and every checkpoint
    (``audit.verify``); changes nothing else."""
    require(actor, Permission.AUDIT_READ, action="audit.verify")
    return audit.verify().as_dict()
