"""Service-hall counter: terminals, assisted sessions, proofing (issue 5)

Revision ID: 8b_hall
Revises: 8a_hotline

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "8b_hall"
down_revision = "8a_hotline"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
