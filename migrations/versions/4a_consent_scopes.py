"""Scoped consent: per-client scope policy (issue 4)

Revision ID: 4a_consent_scopes
Revises: 3c_authenticator_limits

- ``oauth_client.scope_policy``: {scope: {"required": bool, "purpose": str}} and an
  optional "ttl_days" (idp.consent.policy). NULL: every requested scope required.
"""

import sqlalchemy as sa
from alembic import op

revision = "4a_consent_scopes"
down_revision = "3c_authenticator_limits"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope_policy", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("scope_policy")
