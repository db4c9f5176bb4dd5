"""Front-channel logout registration (OpenID Connect Front-Channel Logout 1.0)

Revision ID: 9i_frontchannel_logout
Revises: 9h_ciba_ping_outbox

- ``oauth_client.frontchannel_logout_uri`` / ``frontchannel_logout_session_required``
  (section 2): the URI the signed-out page frames, and whether the frame carries
  ``iss`` and ``sid``.
"""

import sqlalchemy as sa
from alembic import op

revision = "9i_frontchannel_logout"
down_revision = "9h_ciba_ping_outbox"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frontchannel_logout_uri", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "frontchannel_logout_session_required",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("frontchannel_logout_session_required")
        batch_op.drop_column("frontchannel_logout_uri")
