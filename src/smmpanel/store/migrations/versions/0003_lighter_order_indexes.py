"""lighter order indexes: partial upstream-id and due indexes, no status index

Each secondary index costs every new order one page write (a WAL frame on
SQLite); the benchmark's add path spent most of its time writing them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("uq_orders_provider_order", type_="unique")
        batch.drop_index("ix_orders_status")
        batch.drop_index("ix_orders_due")
    op.create_index(
        "uq_orders_provider_order", "orders", ["provider_id", "provider_order"], unique=True,
        sqlite_where=sa.text("provider_order IS NOT NULL"), postgresql_where=sa.text("provider_order IS NOT NULL"),
    )
    op.create_index(
        "ix_orders_due", "orders", ["upstream_state", "due_at_s"],
        sqlite_where=sa.text("due_at_s IS NOT NULL"), postgresql_where=sa.text("due_at_s IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_due", table_name="orders")
    op.drop_index("uq_orders_provider_order", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.create_unique_constraint("uq_orders_provider_order", ["provider_id", "provider_order"])
        batch.create_index("ix_orders_status", ["status"])
        batch.create_index("ix_orders_due", ["upstream_state", "due_at_s"])
