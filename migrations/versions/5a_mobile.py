"""Mobile app: bound devices, cross-device sign-in (issue 5)

Revision ID: 5a_mobile
Revises: 4c_backchannel

Device keys and account alerts; the client's OIDC ``application_type`` (native apps);
the channel of the sign-in behind a token (the ``channel`` ID-token claim on refresh).
"""

import sqlalchemy as sa
from alembic import op

revision = "5a_mobile"
down_revision = "4c_backchannel"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "device_key",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("bound_acr", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_device_key_citizen_id_citizen"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_key")),
        sa.UniqueConstraint("thumbprint", name=op.f("uq_device_key_thumbprint")),
    )
    with op.batch_alter_table("device_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_key_citizen_id"), ["citizen_id"], unique=False)
    op.create_table(
        "account_alert",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_account_alert_citizen_id_citizen"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_alert")),
    )
    with op.batch_alter_table("account_alert", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_alert_citizen_id"), ["citizen_id"], unique=False
        )
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "application_type", sa.String(length=16), server_default="web", nullable=False
            )
        )
    with op.batch_alter_table("oauth_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table("oauth_token", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("application_type")
    with op.batch_alter_table("account_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_alert_citizen_id"))
    op.drop_table("account_alert")
    with op.batch_alter_table("device_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_key_citizen_id"))
    op.drop_table("device_key")
