"""Kiosk app QR sign-in and hand-off (issue 5)

Revision ID: 9a_kiosk_app
Revises: 8b_hall

Reserved for this session's work; empty until that work needs a schema change.
"""

revision = "9a_kiosk_app"
down_revision = "8b_hall"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
