"""page speed: each customer's total spent kept on its row, and an index for
searching order links by a substring

Revision ID: 0009
Revises: 0008

``users.spent_micros`` is what the customer spent (charges net of refunds),
moved by the same statement that moves the balance (``store.accounts``,
``store.orders``), so no page sums the whole ledger for it. It starts from
the ledger. SQLite sorts the operator's users by it through an index.
PostgreSQL reads the users instead: an index on a column every order
changes turns the charge's update of the users row from a HOT update into
one that writes every index of ``users`` (measured: a third fewer orders
per second through the store, a busy customer's orders all updating one row).

Link search: PostgreSQL gets a GIN trigram index (``pg_trgm``) on
``lower(link)``, the expression the search filters on; ``pg_trgm`` is a
trusted extension (PostgreSQL 13+): the database's owner may create it.
SQLite gets an FTS5 table of the links with the trigram tokenizer (external
content: the links are not stored twice). Indexing a link costs FTS5 about
as much as placing the order, so it is not done as orders are placed: the
table covers the orders up to ``link_search_progress.through_id`` and is
brought up to date by the searches and the worker
(``store.linksearch.index_new_links``); a search reads the newer orders
directly. SQLite has one writer, so no order below that id can still appear.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQLITE_LINK_SEARCH = [
    "CREATE VIRTUAL TABLE orders_link_search USING fts5(link, content='orders', content_rowid='id', "
    "tokenize='trigram', detail=none, columnsize=0)",
    "CREATE TABLE link_search_progress (through_id INTEGER NOT NULL)",
    "INSERT INTO orders_link_search (orders_link_search) VALUES ('rebuild')",
    "INSERT INTO link_search_progress (through_id) SELECT COALESCE(MAX(id), 0) FROM orders",
    # The panel never changes a link or deletes an order; should that ever
    # happen, these keep the indexed part right.
    "CREATE TRIGGER orders_link_search_delete AFTER DELETE ON orders "
    "WHEN old.id <= (SELECT through_id FROM link_search_progress) BEGIN "
    "INSERT INTO orders_link_search (orders_link_search, rowid, link) VALUES ('delete', old.id, old.link); END",
    "CREATE TRIGGER orders_link_search_update AFTER UPDATE OF link ON orders "
    "WHEN old.id <= (SELECT through_id FROM link_search_progress) BEGIN "
    "INSERT INTO orders_link_search (orders_link_search, rowid, link) VALUES ('delete', old.id, old.link); "
    "INSERT INTO orders_link_search (rowid, link) VALUES (new.id, new.link); END",
]


def upgrade() -> None:
    op.add_column("users", sa.Column("spent_micros", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
    op.execute(
        "UPDATE users SET spent_micros = COALESCE((SELECT -SUM(l.amount_micros) FROM ledger l "
        "WHERE l.user_id = users.id AND l.kind IN ('charge', 'refund')), 0)"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_users_spent", "users", ["spent_micros", "id"])
        for statement in SQLITE_LINK_SEARCH:
            op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_orders_link_trgm ON orders USING gin (lower(link) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("delete", "update"):
            op.execute(f"DROP TRIGGER orders_link_search_{trigger}")
        op.execute("DROP TABLE link_search_progress")
        op.execute("DROP TABLE orders_link_search")
        op.drop_index("ix_users_spent", table_name="users")
    else:
        op.execute("DROP INDEX ix_orders_link_trgm")
    # Not batch mode: rebuilding users on SQLite would lose its expression index (uq_users_email).
    op.drop_column("users", "spent_micros")
