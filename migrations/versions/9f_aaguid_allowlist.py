"""Authenticator models admitted to the high level, managed in the console (issue 6)

Revision ID: 9f_aaguid_allowlist
Revises: 9e_backchannel_purge

The AAGUID allow-list as a table (idp.models.authenticator_model): removal is recorded
on the row, and a partial unique index keeps one live row per AAGUID (SQLite and
PostgreSQL both support ``WHERE`` on an index).
"""

import sqlalchemy as sa
from alembic import op

revision = "9f_aaguid_allowlist"
down_revision = "9e_backchannel_purge"
branch_labels = None
depends_on = None

LIVE = sa.text("removed_at IS NULL")


def upgrade():
    op.create_table(
        "high_authenticator_model",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("added_by", sa.String(length=80), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.String(length=80), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_high_authenticator_model_live",
        "high_authenticator_model",
        ["aaguid"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade():
    op.drop_index("uq_high_authenticator_model_live", table_name="high_authenticator_model")
    op.drop_table("high_authenticator_model")
