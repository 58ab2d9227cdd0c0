"""API keys: a lookup (indexed) beside the hash, rotation with a grace period, who set the key

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LOOKUP_HEX_DIGITS = 16  # services/keys.py: an older key's lookup is this start of its hash


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("api_key_lookup", sa.Text(), nullable=True))
        batch.add_column(sa.Column("key_set_at_s", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("key_set_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("old_key_lookup", sa.Text(), nullable=True))
        batch.add_column(sa.Column("old_key_hash", sa.Text(), nullable=True))
        batch.add_column(sa.Column("old_key_until_s", sa.BigInteger(), nullable=True))
    # Every key made so far keeps working: its lookup is found again from the
    # key presented (the same digits of its hash). When it was made is not
    # known; the account's creation is the best guess and is only shown.
    op.execute(f"UPDATE users SET api_key_lookup = substr(api_key_hash, 1, {LOOKUP_HEX_DIGITS}), "
               "key_set_at_s = created_at_s")
    op.create_index("uq_users_api_key_lookup", "users", ["api_key_lookup"], unique=True)
    # Partial: nearly every row has no old key, and an index of NULLs would
    # make SQLite's planner (after ANALYZE) scan the table rather than use it.
    op.create_index("uq_users_old_key_lookup", "users", ["old_key_lookup"], unique=True,
                    sqlite_where=sa.text("old_key_lookup IS NOT NULL"),
                    postgresql_where=sa.text("old_key_lookup IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_users_old_key_lookup", table_name="users")
    op.drop_index("uq_users_api_key_lookup", table_name="users")
    # Plain DROP COLUMN (SQLite 3.35+), not a batch copy of the table: the
    # copy would lose uq_users_email, an index on an expression.
    for column in ("old_key_until_s", "old_key_hash", "old_key_lookup", "key_set_by", "key_set_at_s",
                   "api_key_lookup"):
        op.drop_column("users", column)
