"""WebAuthn credentials (issue 3)

Revision ID: 3b_webauthn
Revises: 3a_assurance_policy
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "3b_webauthn"
down_revision = "3a_assurance_policy"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webauthn_user",
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("user_handle", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_webauthn_user_citizen_id_citizen"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citizen_id", name=op.f("pk_webauthn_user")),
        sa.UniqueConstraint("user_handle", name=op.f("uq_webauthn_user_user_handle")),
    )
    op.create_table(
        "webauthn_credential",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("attestation_fmt", sa.String(length=32), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("uv_initialized", sa.Boolean(), nullable=False),
        sa.Column("discoverable", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_webauthn_credential_citizen_id_citizen"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_credential")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_webauthn_credential_credential_id")),
    )
    with op.batch_alter_table("webauthn_credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webauthn_credential_citizen_id"), ["citizen_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("webauthn_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webauthn_credential_citizen_id"))
    op.drop_table("webauthn_credential")
    op.drop_table("webauthn_user")
