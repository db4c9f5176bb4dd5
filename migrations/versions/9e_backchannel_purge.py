"""Indexes for purging the back-channel logout outbox (``idp backchannel purge``)

Revision ID: 9e_backchannel_purge
Revises: 9c_address

``idp backchannel purge`` deletes delivered and abandoned notices older than the
retention in small batches; each batch finds its rows through these indexes instead of
scanning the whole outbox.
"""

from alembic import op

revision = "9e_backchannel_purge"
down_revision = "9c_address"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("backchannel_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_backchannel_delivery_delivered_at", ["delivered_at"], unique=False
        )
        batch_op.create_index(
            "ix_backchannel_delivery_abandoned_at", ["abandoned_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("backchannel_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_backchannel_delivery_abandoned_at")
        batch_op.drop_index("ix_backchannel_delivery_delivered_at")
