"""Performance: the audit chain off the hot path (issue 7)

Revision ID: 9b_perf
Revises: 9a_kiosk_app

- ``audit_pending``: records written by actions, in the action's transaction, waiting
  for the sealer to link them into the chain (idp.audit.sealer). Insert-only for the
  application; the sealer deletes the rows it moved into ``audit_event``. PostgreSQL: a
  trigger refuses UPDATE and TRUNCATE for every role (as 6a_audit does for the chain),
  and both are revoked from PUBLIC and the migrating role.
- ``audit_event.content_hash``: body version 2 (idp.audit.canonical): the hash of the
  record's content taken when the action wrote it; ``hash`` then links
  (seq, prev_hash, content_hash). NULL on version-1 records written before.
"""

import sqlalchemy as sa
from alembic import op

revision = "9b_perf"
down_revision = "9a_kiosk_app"
branch_labels = None
depends_on = None


def _big_id():
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.add_column("audit_event", sa.Column("content_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_pending",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
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
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION audit_pending_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'pending audit records cannot be changed: % on % refused',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_pending_insert_only BEFORE UPDATE OR TRUNCATE "
        "ON audit_pending FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_insert_only()"
    )
    op.execute("ALTER TABLE audit_pending ENABLE ALWAYS TRIGGER audit_pending_insert_only")
    op.execute("REVOKE UPDATE, TRUNCATE ON audit_pending FROM PUBLIC, CURRENT_USER")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_pending_insert_only ON audit_pending")
        op.execute("DROP FUNCTION IF EXISTS audit_pending_insert_only()")
    op.drop_table("audit_pending")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("content_hash")
