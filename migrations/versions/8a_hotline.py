"""Hotline (CIBA) requests and the act claim (issue 5)

Revision ID: 8a_hotline
Revises: 7a_perf

- ``oauth_token.act``: the RFC 8693 ``act`` claim of a staff-assisted sign-in (JSON).
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


def downgrade():
    with op.batch_alter_table("oauth_token") as batch:
        batch.drop_column("act")
