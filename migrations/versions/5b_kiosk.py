"""Kiosks, counters and hotline devices (issue 5)

Revision ID: 5b_kiosk
Revises: 5a_mobile

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "5b_kiosk"
down_revision = "5a_mobile"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
