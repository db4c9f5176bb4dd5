"""Hotline (CIBA) requests and the act claim (issue 5)

Revision ID: 8a_hotline
Revises: 7a_perf

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "8a_hotline"
down_revision = "7a_perf"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
