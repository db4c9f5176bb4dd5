"""Performance: indexes and cached lookups (issue 7)

Revision ID: 7a_perf
Revises: 6b_admin

Intentionally empty. Every lookup on the hot path already uses a primary key or a unique
index (client by ``client_id``, citizen by ``id``, token by ``access_token_hash`` or
``refresh_token_hash``, consent by its ``citizen_id`` index, the password credential by
its ``citizen_id`` key, the sign-in by the unique blind index ``id_number_index``), and
the scale case (1,000 against 1,000,000 citizens, bench/RESULTS.md) shows no cost growing
with the table. The caching is per process and in Redis: no schema change.
"""

revision = "7a_perf"
down_revision = "6b_admin"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
