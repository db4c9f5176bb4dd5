"""Service-hall counter: terminals, assisted sessions, proofing (issue 5)

Revision ID: 8b_hall
Revises: 8a_hotline

Counter terminals are registered devices like kiosks: a ``kiosk`` row with ``kind``
``counter`` and the ``window`` it serves. A passkey enrolled with a counter's one-time
code is marked ``bound_in_person``.
"""

import sqlalchemy as sa
from alembic import op

revision = "8b_hall"
down_revision = "8a_hotline"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("kiosk") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="kiosk")
        )
        batch.add_column(sa.Column("window", sa.String(length=64), nullable=True))
    with op.batch_alter_table("webauthn_credential") as batch:
        batch.add_column(
            sa.Column("bound_in_person", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table("webauthn_credential") as batch:
        batch.drop_column("bound_in_person")
    with op.batch_alter_table("kiosk") as batch:
        batch.drop_column("window")
        batch.drop_column("kind")
