"""Performance: the audit chain and hot-path writes (issue 7)

Revision ID: 9b_perf
Revises: 9a_kiosk_app

Reserved for this session's work; empty until that work needs a schema change.
"""

revision = "9b_perf"
down_revision = "9a_kiosk_app"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
