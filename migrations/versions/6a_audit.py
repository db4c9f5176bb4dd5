"""Tamper-evident audit trail (issue 6)

Revision ID: 6a_audit
Revises: 5b_kiosk

- ``audit_event``: hash-chained records (idp.audit.chain).
- ``audit_checkpoint``: signed statements of the chain head (idp.audit.checkpoints).
- ``audit_chain_head``: the single row every append locks; seeded here (seq 0).
- PostgreSQL: ``audit_event`` and ``audit_checkpoint`` are append-only. A trigger raises
  on UPDATE, DELETE and TRUNCATE for every role, superusers included (only a superuser
  going around the application, by disabling the trigger or with
  ``session_replication_role = replica``, can still change rows: that is what
  ``idp audit verify`` catches); and UPDATE, DELETE, TRUNCATE are revoked from PUBLIC
  and from the role running the migration (the application's), so a grant-based setup
  with a separate owner refuses them before the trigger does.
"""

import sqlalchemy as sa
from alembic import op

revision = "6a_audit"
down_revision = "5b_kiosk"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
APPEND_ONLY_TABLES = ("audit_event", "audit_checkpoint")


def _big_id():
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "audit_event",
        sa.Column("seq", _big_id(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("citizen_id", sa.String(length=36), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_event_hash")),
    )
    for column in ("at", "event", "actor_id", "citizen_id", "client_id"):
        op.create_index(op.f(f"ix_audit_event_{column}"), "audit_event", [column])
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    op.create_index(op.f("ix_audit_checkpoint_seq"), "audit_checkpoint", ["seq"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS, "checkpoint_seq": 0}])

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in APPEND_ONLY_TABLES:
        # Per statement: refused even when no row matches, so nobody can probe it.
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
        )
        # ALWAYS: the trigger fires under session_replication_role = replica too, so
        # only an explicit DISABLE TRIGGER (by the owner or a superuser) goes around it.
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC, CURRENT_USER")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    op.drop_table("audit_chain_head")
    op.drop_index(op.f("ix_audit_checkpoint_seq"), table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
    for column in ("at", "event", "actor_id", "citizen_id", "client_id"):
        op.drop_index(op.f(f"ix_audit_event_{column}"), table_name="audit_event")
    op.drop_table("audit_event")
