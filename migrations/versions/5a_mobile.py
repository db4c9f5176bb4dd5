"""Mobile app: bound devices, cross-device sign-in (issue 5)

Revision ID: 5a_mobile
Revises: 4c_backchannel

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "5a_mobile"
down_revision = "4c_backchannel"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
