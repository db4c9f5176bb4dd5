"""Tamper-evident audit trail (issue 6)

Revision ID: 6a_audit
Revises: 5b_kiosk

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "6a_audit"
down_revision = "5b_kiosk"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
