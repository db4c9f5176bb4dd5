"""Client credentials, electronic licences and data releases (issue 4)

Revision ID: 4b_licences
Revises: 4a_consent_scopes

- ``oauth_client.grant_types``: grant types an administrator allowed (NULL:
  authorization_code only), e.g. ``client_credentials`` (RFC 6749 section 4.4).
- ``oauth_token.citizen_id`` becomes nullable: a client's own token has no citizen.
- ``licence``: electronic licences, unique on (type, number), keyed on the holder's
  blind index (idp.licences).
- ``oauth_token.consent_id``: the consent behind the token's scopes.
- ``data_release``: every release of a citizen's data to a portal (idp.consent.releases).
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
        batch_op.add_column(sa.Column("consent_id", sa.String(length=36), nullable=True))
    op.create_table(
        "licence",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("holder_index", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence")),
        sa.UniqueConstraint("type", "number", name="uq_licence_type_number"),
    )
    op.create_index("ix_licence_holder_type", "licence", ["holder_index", "type"], unique=False)
    op.create_table(
        "data_release",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizen.id"],
            name=op.f("fk_data_release_citizen_id_citizen"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_client.client_id"],
            name=op.f("fk_data_release_client_id_oauth_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_release")),
    )
    op.create_index(
        "ix_data_release_citizen_time", "data_release", ["citizen_id", "released_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_data_release_citizen_time", table_name="data_release")
    op.drop_table("data_release")
    op.drop_index("ix_licence_holder_type", table_name="licence")
    op.drop_table("licence")
    op.execute("DELETE FROM oauth_token WHERE citizen_id IS NULL")
    with op.batch_alter_table("oauth_token", schema=None) as batch_op:
        batch_op.drop_column("consent_id")
        batch_op.alter_column("citizen_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("oauth_client", schema=None) as batch_op:
        batch_op.drop_column("grant_types")
