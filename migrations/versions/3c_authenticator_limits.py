"""SMS one-time codes and per-authenticator failure limits (issue 3)

Revision ID: 3c_authenticator_limits
Revises: 3b_webauthn

- ``authenticator_lockout``: authenticators disabled after 100 consecutive failures
  (idp.authn.authenticator_limits).
- ``oauth_client.access_token_format``: "opaque" (default) or "jwt" (RFC 9068).
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "3c_authenticator_limits"
down_revision = "3b_webauthn"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "authenticator_lockout",
        sa.Column("authenticator", sa.String(length=255), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("authenticator", name=op.f("pk_authenticator_lockout")),
    )
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "access_token_format",
                sa.String(length=16),
                nullable=False,
                server_default="opaque",
            )
        )


def downgrade():
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("access_token_format")
    op.drop_table("authenticator_lockout")
