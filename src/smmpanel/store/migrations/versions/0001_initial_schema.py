"""initial schema

Revision ID: 0001
Revises: 
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('key_sealed', sa.Text(), nullable=False),
    sa.Column('encoding', sa.Text(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('fx', sa.Text(), nullable=False),
    sa.Column('timeout_s', sa.Integer(), nullable=False),
    sa.Column('max_ids', sa.Integer(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('multi_status_action', sa.Text(), server_default=sa.text("'status'"), nullable=False),
    sa.Column('balance_text', sa.Text(), nullable=True),
    sa.Column('balance_checked_at_s', sa.BigInteger(), nullable=True),
    sa.Column('out_of_funds', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('api_key_hash', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('balance_micros', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('balance_micros >= 0', name='ck_users_balance_not_negative'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('api_key_hash'),
    sa.UniqueConstraint('name')
    )
    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('rate_micros', sa.BigInteger(), nullable=False),
    sa.Column('min', sa.Integer(), nullable=False),
    sa.Column('max', sa.Integer(), nullable=False),
    sa.Column('refill', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('cancel', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('dripfeed', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('refill_days', sa.Integer(), server_default=sa.text('(30)'), nullable=False),
    sa.Column('deny_duplicate_link', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('subscription_posts', sa.Integer(), server_default=sa.text('(10)'), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('provider_service', sa.Text(), nullable=True),
    sa.Column('cost_micros', sa.BigInteger(), nullable=True),
    sa.Column('markup_percent', sa.Text(), nullable=True),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('min >= 1 AND max >= min', name='ck_services_min_max'),
    sa.CheckConstraint('rate_micros >= 0', name='ck_services_rate'),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_id', 'provider_service', name='uq_services_provider_service')
    )
    op.create_table('custom_rates',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('rate_micros', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('rate_micros >= 0', name='ck_custom_rates_rate'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'service_id')
    )
    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('link', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=True),
    sa.Column('interval_min', sa.Integer(), nullable=True),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('params', sa.Text(), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('charge_micros', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('start_count', sa.BigInteger(), nullable=True),
    sa.Column('remains', sa.BigInteger(), nullable=True),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.Column('updated_at_s', sa.BigInteger(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('provider_service', sa.Text(), nullable=True),
    sa.Column('provider_order', sa.Text(), nullable=True),
    sa.Column('upstream_state', sa.Text(), nullable=True),
    sa.Column('upstream_status', sa.Text(), nullable=True),
    sa.Column('upstream_error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('due_at_s', sa.BigInteger(), nullable=True),
    sa.Column('lease_until_s', sa.BigInteger(), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.CheckConstraint('charge_micros >= 0', name='ck_orders_charge'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_id', 'provider_order', name='uq_orders_provider_order')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_due', ['upstream_state', 'due_at_s'], unique=False)
        batch_op.create_index('ix_orders_link_active', ['service_id', 'link'], unique=False)
        batch_op.create_index('ix_orders_status', ['status'], unique=False)
        batch_op.create_index('ix_orders_user', ['user_id', 'id'], unique=False)

    op.create_table('ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('amount_micros', sa.BigInteger(), nullable=False),
    sa.Column('balance_after_micros', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('deposit', 'charge', 'refund', 'adjustment')", name='ck_ledger_kind'),
    sa.CheckConstraint('balance_after_micros >= 0', name='ck_ledger_balance_after'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_user', ['user_id', 'id'], unique=False)
        batch_op.create_index('uq_ledger_one_charge_per_order', ['order_id'], unique=True, sqlite_where=sa.text("kind = 'charge'"), postgresql_where=sa.text("kind = 'charge'"))
        batch_op.create_index('uq_ledger_one_refund_per_order', ['order_id'], unique=True, sqlite_where=sa.text("kind = 'refund'"), postgresql_where=sa.text("kind = 'refund'"))

    op.create_table('refills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('created_at_s', sa.BigInteger(), nullable=False),
    sa.Column('updated_at_s', sa.BigInteger(), nullable=False),
    sa.Column('provider_refill', sa.Text(), nullable=True),
    sa.Column('upstream_state', sa.Text(), nullable=True),
    sa.Column('upstream_error', sa.Text(), nullable=True),
    sa.Column('due_at_s', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('refills', schema=None) as batch_op:
        batch_op.create_index('ix_refills_user', ['user_id', 'id'], unique=False)
        batch_op.create_index('uq_refills_one_active', ['order_id'], unique=True, sqlite_where=sa.text("status IN ('Pending', 'In progress')"), postgresql_where=sa.text("status IN ('Pending', 'In progress')"))



def downgrade() -> None:
    with op.batch_alter_table('refills', schema=None) as batch_op:
        batch_op.drop_index('uq_refills_one_active', sqlite_where=sa.text("status IN ('Pending', 'In progress')"), postgresql_where=sa.text("status IN ('Pending', 'In progress')"))
        batch_op.drop_index('ix_refills_user')

    op.drop_table('refills')
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_one_refund_per_order', sqlite_where=sa.text("kind = 'refund'"), postgresql_where=sa.text("kind = 'refund'"))
        batch_op.drop_index('uq_ledger_one_charge_per_order', sqlite_where=sa.text("kind = 'charge'"), postgresql_where=sa.text("kind = 'charge'"))
        batch_op.drop_index('ix_ledger_user')

    op.drop_table('ledger')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_user')
        batch_op.drop_index('ix_orders_status')
        batch_op.drop_index('ix_orders_link_active')
        batch_op.drop_index('ix_orders_due')

    op.drop_table('orders')
    op.drop_table('custom_rates')
    op.drop_table('services')
    op.drop_table('users')
    op.drop_table('providers')
    op.drop_table('categories')
