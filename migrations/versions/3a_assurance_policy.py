"""client default and minimum assurance levels (issue 3)

Revision ID: 3a_assurance_policy
Revises: e329121ddfe2
"""

import sqlalchemy as sa
from alembic import op

revision = "3a_assurance_policy"
down_revision = "e329121ddfe2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_acr", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("minimum_acr", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("minimum_acr")
        batch_op.drop_column("default_acr")
