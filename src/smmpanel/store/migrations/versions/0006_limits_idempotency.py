"""hardening: shared rate-limit counters (several server processes on one
PostgreSQL), and idempotency keys of customer writes

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("window_start_s", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start_s", name="pk_rate_limit_hits"),
    )
    op.create_index("ix_rate_limit_hits_window", "rate_limit_hits", ["window_start_s"])
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("idem_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("created_at_s", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "idem_key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at_s"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_rate_limit_hits_window", table_name="rate_limit_hits")
    op.drop_table("rate_limit_hits")
