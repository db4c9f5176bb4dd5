"""Back-channel logout deliveries (issue 4/5)

Revision ID: 4c_backchannel
Revises: 4b_licences

- ``oauth_client.backchannel_logout_uri`` / ``backchannel_logout_session_required``
  (OpenID Connect Back-Channel Logout 1.0 section 2.2).
- ``backchannel_delivery``: the durable outbox of logout tokens to send (section 2.5),
  with attempts, next attempt, last error, delivered and abandoned times.
- ``consent.declined_scopes``: optional scopes the citizen left unticked, remembered for
  the consent's life (idp.consent.service).
"""

import sqlalchemy as sa
from alembic import op

revision = "4c_backchannel"
down_revision = "4b_licences"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backchannel_logout_uri", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "backchannel_logout_session_required",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declined_scopes", sa.JSON(), nullable=True))
    op.create_table(
        "backchannel_delivery",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["oauth_client.client_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("backchannel_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_backchannel_delivery_client_id", ["client_id"], unique=False)
        batch_op.create_index(
            "ix_backchannel_delivery_next_attempt_at", ["next_attempt_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("backchannel_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_backchannel_delivery_next_attempt_at")
        batch_op.drop_index("ix_backchannel_delivery_client_id")
    op.drop_table("backchannel_delivery")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_column("declined_scopes")
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("backchannel_logout_session_required")
        batch_op.drop_column("backchannel_logout_uri")
