"""Staff, admins and roles (issue 6)

Revision ID: 6b_admin
Revises: 6a_audit

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "6b_admin"
down_revision = "6a_audit"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
