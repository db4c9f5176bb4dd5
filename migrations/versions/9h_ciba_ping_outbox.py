"""CIBA pings through the back-channel outbox (``kind``, sealed ``secret_enc``)

Revision ID: 9h_ciba_ping_outbox
Revises: 9d_phone_verified

A ping-mode CIBA request (CIBA Core 1.0 section 10.2) owes its client one ping; it is a
row of the same outbox as logout notices, so it is claimed, retried, abandoned, listed
and purged by the same code. ``kind`` tells the two apart (existing rows are logout
notices); ``secret_enc`` holds the ping's ``auth_req_id`` and the client's notification
token, sealed, until the ping is delivered or abandoned.
"""

import sqlalchemy as sa
from alembic import op

revision = "9h_ciba_ping_outbox"
down_revision = "9d_phone_verified"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("backchannel_delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="logout")
        )
        batch_op.add_column(sa.Column("secret_enc", sa.LargeBinary(), nullable=True))


def downgrade():
    op.execute("DELETE FROM backchannel_delivery WHERE kind <> 'logout'")
    with op.batch_alter_table("backchannel_delivery", schema=None) as batch_op:
        batch_op.drop_column("secret_enc")
        batch_op.drop_column("kind")
