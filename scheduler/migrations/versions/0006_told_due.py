"""told due date

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

`outbox_item.told_due`: the due date a reminder item told (as rendered into its message). When
an occurrence's due date moves after a message told another one (a meeting date recorded, a
holiday file imported), the next message says 「截止日期已由3月30日调整为3月27日」 and escalation
waits a working day after the new date was told (scheduler/moved.py). NULL for items planned
before this revision: nothing is known about what they told.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('told_due', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.drop_column('told_due')
