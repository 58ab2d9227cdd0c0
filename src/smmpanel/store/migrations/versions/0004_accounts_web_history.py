"""accounts for the website and who-did-what: sign-in fields, sessions,
sign-in failures (throttling), funds requests, the actor of each ledger entry, and each order's history

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.Text(), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.Text(), nullable=True))
        batch.add_column(sa.Column("role", sa.Text(), nullable=False, server_default=sa.text("'customer'")))
        batch.add_column(sa.Column("language", sa.Text(), nullable=True))
        batch.create_check_constraint("ck_users_role", "role IN ('customer', 'operator')")
    op.create_index("uq_users_email", "users", [sa.text("lower(email)")], unique=True,
                    sqlite_where=sa.text("email IS NOT NULL"), postgresql_where=sa.text("email IS NOT NULL"))
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("actor", sa.Text(), nullable=True))
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("remains", sa.BigInteger(), nullable=True),
        sa.Column("start_count", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_order_events_order", "order_events", ["order_id", "id"])
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf_token", sa.Text(), nullable=False),
        sa.Column("created_at_s", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_id"])
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created_at_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_auth_failures_scope", "auth_failures", ["scope", "created_at_s"])
    op.create_table(
        "funds_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, server_default=sa.text("'pending'")),
        sa.Column("created_at_s", sa.BigInteger(), nullable=False),
        sa.Column("decided_at_s", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("ledger_id", sa.Integer(), sa.ForeignKey("ledger.id"), nullable=True, unique=True),
        sa.CheckConstraint("amount_micros > 0", name="ck_funds_requests_amount"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_funds_requests_status"),
    )
    op.create_index("ix_funds_requests_user", "funds_requests", ["user_id", "id"])
    op.create_index("ix_funds_requests_pending", "funds_requests", ["status", "id"])


def downgrade() -> None:
    op.drop_table("funds_requests")
    op.drop_table("auth_failures")
    op.drop_table("web_sessions")
    op.drop_table("order_events")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("actor")
    op.drop_index("uq_users_email", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("ck_users_role", type_="check")
        batch.drop_column("language")
        batch.drop_column("role")
        batch.drop_column("password_hash")
        batch.drop_column("email")
