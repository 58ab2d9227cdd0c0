"""catalog order (categories and services get a position) and proof of non-delivery (orders.refused_sends)

Revision ID: 0008
Revises: 0007

The positions are backfilled so that customers keep seeing today's order:
services by id, categories by their first service's id (categories without
a service after those, by id). ``refused_sends`` starts at 0: an order sent
before this revision has no proof that its sends failed, so it can't be
resent to another upstream (the safe side).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")))
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default=sa.text("0")))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("refused_sends", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.execute("UPDATE services SET position = id")
    # A category's first service's id keeps it where customers see it today; an empty one goes last.
    op.execute(
        "UPDATE categories SET position = COALESCE("
        "(SELECT MIN(s.id) FROM services s WHERE s.category_id = categories.id), "
        "(SELECT COALESCE(MAX(id), 0) FROM services) + categories.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("refused_sends")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("position")
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("position")
