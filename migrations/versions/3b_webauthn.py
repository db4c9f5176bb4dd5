"""WebAuthn credentials (issue 3)

Revision ID: 3b_webauthn
Revises: 3a_assurance_policy
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "3b_webauthn"
down_revision = "3a_assurance_policy"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
