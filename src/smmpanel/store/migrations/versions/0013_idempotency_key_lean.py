"""idempotency keys: no foreign key to users; on PostgreSQL, keys compared byte by byte

Revision ID: 0013
Revises: 0012

A keyed order writes its key row in the statement that debits the account.
The key's foreign key then checks that account's row, which that statement
has just updated: on PostgreSQL ~18 µs of the key's ~50 µs per order
(docs/benchmark-log.md). It protected nothing: a key is only ever claimed
for the account being debited in the same transaction, and accounts are
never deleted. On PostgreSQL the key is also compared with the "C"
collation (bytes, as SQLite compares it) instead of the database's locale:
equality is the same, and the primary key's comparisons are cheaper.
SQLite has no way to drop a constraint, so its table is rebuilt.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = "user_id, idem_key, fingerprint, reply, created_at_s"


def _rebuild_sqlite(user_id_column: str) -> None:
    op.execute("DROP INDEX ix_idempotency_keys_created")
    op.execute("ALTER TABLE idempotency_keys RENAME TO idempotency_keys_old")
    op.execute(
        f"CREATE TABLE idempotency_keys ({user_id_column}, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
        "reply TEXT NOT NULL, created_at_s BIGINT NOT NULL, "
        "CONSTRAINT pk_idempotency_keys PRIMARY KEY (user_id, idem_key))"
    )
    op.execute(f"INSERT INTO idempotency_keys ({_COLUMNS}) SELECT {_COLUMNS} FROM idempotency_keys_old")
    op.execute("DROP TABLE idempotency_keys_old")
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at_s"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("idempotency_keys_user_id_fkey", "idempotency_keys", type_="foreignkey")
        op.execute('ALTER TABLE idempotency_keys ALTER COLUMN idem_key TYPE TEXT COLLATE "C"')
    else:
        _rebuild_sqlite("user_id INTEGER NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('ALTER TABLE idempotency_keys ALTER COLUMN idem_key TYPE TEXT COLLATE "default"')
        op.create_foreign_key("idempotency_keys_user_id_fkey", "idempotency_keys", "users", ["user_id"], ["id"])
    else:
        _rebuild_sqlite("user_id INTEGER NOT NULL REFERENCES users (id)")
