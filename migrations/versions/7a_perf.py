"""Performance: indexes and cached lookups (issue 7)

Revision ID: 7a_perf
Revises: 6b_admin

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "7a_perf"
down_revision = "6b_admin"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
