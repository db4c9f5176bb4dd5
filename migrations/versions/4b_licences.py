"""Client credentials, electronic licences and data releases (issue 4)

Revision ID: 4b_licences
Revises: 4a_consent_scopes

- ``oauth_client.grant_types``: grant types an administrator allowed (NULL:
  authorization_code only), e.g. ``client_credentials`` (RFC 6749 section 4.4).
- ``oauth_token.citizen_id`` becomes nullable: a client's own token has no citizen.
"""

import sqlalchemy as sa
from alembic import op

revision = "4b_licences"
down_revision = "4a_consent_scopes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_types", sa.JSON(), nullable=True))
    with op.batch_alter_table("oauth_token", schema=None) as batch_op:
        batch_op.alter_column("citizen_id", existing_type=sa.String(length=36), nullable=True)


def downgrade():
    op.execute("DELETE FROM oauth_token WHERE citizen_id IS NULL")
    with op.batch_alter_table("oauth_token", schema=None) as batch_op:
        batch_op.alter_column("citizen_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("grant_types")
