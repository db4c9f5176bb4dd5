"""Back-channel logout deliveries (issue 4/5)

Revision ID: 4c_backchannel
Revises: 4b_licences

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "4c_backchannel"
down_revision = "4b_licences"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
