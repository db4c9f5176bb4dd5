"""Hotline (CIBA) requests and the act claim (issue 5)

Revision ID: 8a_hotline
Revises: 7a_perf

- ``oauth_token.act``: the RFC 8693 ``act`` claim of a staff-assisted sign-in (JSON).
- ``oauth_client.backchannel_token_delivery_mode`` and
  ``backchannel_client_notification_endpoint``: CIBA Core 1.0 section 4 registration.
"""

import sqlalchemy as sa
from alembic import op

revision = "8a_hotline"
down_revision = "7a_perf"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("oauth_token") as batch:
        batch.add_column(sa.Column("act", sa.JSON(), nullable=True))
    with op.batch_alter_table("oauth_client") as batch:
        batch.add_column(
            sa.Column("backchannel_token_delivery_mode", sa.String(length=8), nullable=True)
        )
        batch.add_column(
            sa.Column("backchannel_client_notification_endpoint", sa.Text(), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("oauth_client") as batch:
        batch.drop_column("backchannel_client_notification_endpoint")
        batch.drop_column("backchannel_token_delivery_mode")
    with op.batch_alter_table("oauth_token") as batch:
        batch.drop_column("act")
