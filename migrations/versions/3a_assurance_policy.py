"""client default and minimum assurance levels (issue 3)

Revision ID: 3a_assurance_policy
Revises: e329121ddfe2
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "3a_assurance_policy"
down_revision = "e329121ddfe2"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
