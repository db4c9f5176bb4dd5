"""Kiosks, counters and hotline devices (issue 5)

Revision ID: 5b_kiosk
Revises: 5a_mobile

- ``kiosk``: a registered self-service kiosk (an ``oauth_client`` using
  ``private_key_jwt``), where it stands, and whether it is disabled.
"""

import sqlalchemy as sa
from alembic import op

revision = "5b_kiosk"
down_revision = "5a_mobile"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kiosk",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["oauth_client.client_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id"),
    )


def downgrade():
    op.drop_table("kiosk")
