"""payments: each customer's deposit code, the payment method of a ledger
entry, and the payments table (bank transfers and, later, other gateways)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("deposit_code", sa.Text(), nullable=True))
    op.create_index("uq_users_deposit_code", "users", ["deposit_code"], unique=True)
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("method", sa.Text(), nullable=True))
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("paid_amount", sa.Text(), nullable=False),
        sa.Column("paid_currency", sa.Text(), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=True),
        sa.Column("ledger_id", sa.Integer(), sa.ForeignKey("ledger.id"), nullable=True, unique=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("received_at_s", sa.BigInteger(), nullable=False),
        sa.Column("decided_at_s", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.UniqueConstraint("method", "external_id", name="uq_payments_method_external_id"),
        sa.CheckConstraint("status IN ('credited', 'unmatched', 'dismissed')", name="ck_payments_status"),
        sa.CheckConstraint("(status = 'credited') = (ledger_id IS NOT NULL)", name="ck_payments_credited_ledger"),
    )
    op.create_index("ix_payments_status", "payments", ["status", "id"])
    op.create_index("ix_payments_user", "payments", ["user_id", "id"])


def downgrade() -> None:
    op.drop_table("payments")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("method")
    op.drop_index("uq_users_deposit_code", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deposit_code")
