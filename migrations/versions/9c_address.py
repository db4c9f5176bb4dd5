"""The address of household registration on registry_entry and citizen (issue 4)

Revision ID: 9c_address
Revises: 9b_perf

A JSON object of OIDC Core 5.1.1 Address Claim members (idp.models.address), NULL when
the registry gave none. JSON is TEXT on SQLite and ``json`` on PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "9c_address"
down_revision = "9b_perf"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("registry_entry", "citizen"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("address", sa.JSON(), nullable=True))


def downgrade():
    for table in ("citizen", "registry_entry"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("address")
