"""Proof of possession of the citizen's phone (OIDC phone_number_verified)

Revision ID: 9d_phone_verified
Revises: 9f_aaguid_allowlist

``citizen.verified_phone``: the number an SMS code sent to it was entered for (it counts
only while it equals ``citizen.phone``); ``phone_verified_at``: when that was first proved
(idp.authn.phone_verification). Existing accounts start unverified: nothing proved them.
"""

import sqlalchemy as sa
from alembic import op

revision = "9d_phone_verified"
down_revision = "9f_aaguid_allowlist"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("citizen") as batch:
        batch.add_column(sa.Column("verified_phone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("phone_verified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("citizen") as batch:
        batch.drop_column("phone_verified_at")
        batch.drop_column("verified_phone")
