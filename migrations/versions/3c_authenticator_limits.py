"""SMS one-time codes and per-authenticator failure limits (issue 3)

Revision ID: 3c_authenticator_limits
Revises: 3b_webauthn
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "3c_authenticator_limits"
down_revision = "3b_webauthn"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
