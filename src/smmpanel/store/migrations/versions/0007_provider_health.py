"""provider health: the worker's circuit breaker and multi-status fallback, visible to the operator

Revision ID: 0007
Revises: 0006

(Numbered 0007 so that 0005/0006 of the branches merged beside it keep
theirs; when merging, point ``down_revision`` at the newest of those.)
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("breaker_failures", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("breaker_open_for_s", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("breaker_open_until_s", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("breaker_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("multi_status_retry_at_s", sa.BigInteger(), nullable=True))
    # A fallback stored before (possibly after one empty reply) is tried again at once.
    op.execute("UPDATE providers SET multi_status_retry_at_s = 0 WHERE multi_status_action <> 'status'")


def downgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        for column in ("multi_status_retry_at_s", "breaker_error", "breaker_open_until_s", "breaker_open_for_s",
                       "breaker_failures"):
            batch.drop_column(column)
