"""Staff, admins and roles (issue 6)

Revision ID: 6b_admin
Revises: 6a_audit

Staff accounts (own table, apart from citizens), their WebAuthn credentials and their
personal admin-API tokens (keyed hashes only); per-client token lifetimes.
"""

import sqlalchemy as sa
from alembic import op

revision = "6b_admin"
down_revision = "6a_audit"
branch_labels = None
depends_on = None


def upgrade():
    # Per-client token lifetimes (seconds; NULL = the deployment default).
    with op.batch_alter_table("oauth_client") as batch:
        batch.add_column(sa.Column("access_token_ttl", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("refresh_token_ttl", sa.Integer(), nullable=True))
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolment_hash", sa.String(length=128), nullable=True),
        sa.Column("enrolment_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_handle", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
        sa.UniqueConstraint("user_handle"),
    )
    op.create_table(
        "staff_credential",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id"),
    )
    op.create_index("ix_staff_credential_staff_id", "staff_credential", ["staff_id"])
    op.create_table(
        "staff_api_token",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_staff_api_token_staff_id", "staff_api_token", ["staff_id"])


def downgrade():
    op.drop_index("ix_staff_api_token_staff_id", table_name="staff_api_token")
    op.drop_table("staff_api_token")
    op.drop_index("ix_staff_credential_staff_id", table_name="staff_credential")
    op.drop_table("staff_credential")
    op.drop_table("staff")
    with op.batch_alter_table("oauth_client") as batch:
        batch.drop_column("refresh_token_ttl")
        batch.drop_column("access_token_ttl")
