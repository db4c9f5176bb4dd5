"""Going around the audit trail's append-only guard, as a DBA could: for resetting the
database between tests and for the tamper tests (which then show `verify` catches it).

PostgreSQL: the migration's triggers are ENABLE ALWAYS, so only disabling them (table
owner or superuser) lets an UPDATE or DELETE through. SQLite has no guard to go around.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TRIGGERS = {
    "audit_event": ("audit_event_append_only",),
    "audit_checkpoint": ("audit_checkpoint_append_only",),
    "audit_pending": ("audit_pending_insert_only",),
}


@contextmanager
def around_append_only(conn: Any) -> Iterator[Any]:
    """Within ``conn``'s transaction: triggers off, then back on (ALWAYS)."""
    from sqlalchemy import text

    postgres = conn.dialect.name == "postgresql"
    if postgres:
        for table, triggers in TRIGGERS.items():
            for trigger in triggers:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
    yield conn
    if postgres:
        for table, triggers in TRIGGERS.items():
            for trigger in triggers:
                conn.execute(text(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}"))


def tamper(app: Any, *statements: tuple[str, dict[str, Any]]) -> None:
    """Run raw SQL against the audit tables on a connection of its own, around the guard."""
    from sqlalchemy import text

    from idp.extensions import db

    db.session.commit()
    with db.engine.begin() as conn, around_append_only(conn):
        for sql, params in statements:
            conn.execute(text(sql), params)
