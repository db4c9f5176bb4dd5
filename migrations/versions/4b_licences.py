"""Client credentials, electronic licences and data releases (issue 4)

Revision ID: 4b_licences
Revises: 4a_consent_scopes

Reserved in the chain so parallel work can land in any order; filled in by its owner.
"""

revision = "4b_licences"
down_revision = "4a_consent_scopes"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
