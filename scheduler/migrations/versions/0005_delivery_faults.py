"""delivery faults

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Faults without surprises (docs/service.md, "Faults"): outbox claims record their owner process
and a renewable lease, whether the send had begun, the parts of a multi-part message already
delivered and since when the row's channel has been failing; `channel_state` holds paused and
rate-limited channels; `service_lease` lets one process at a time plan and materialise (and,
on SQLite, run the daemon). Outbox items gain the state `undelivered`.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD_STATES = "state IN ('listed', 'superseded', 'settled')"
NEW_STATES = "state IN ('listed', 'superseded', 'settled', 'undelivered')"


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('send_started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('progress', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('fault_since', sa.DateTime(), nullable=True))
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.drop_constraint('state', type_='check')
        batch_op.create_check_constraint('state', NEW_STATES)
    op.create_table('channel_state',
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('paused_until', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_channel_state'))
    )
    op.create_table('service_lease',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('acquired_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_service_lease'))
    )


def downgrade() -> None:
    op.drop_table('service_lease')
    op.drop_table('channel_state')
    op.execute("UPDATE outbox_item SET state = 'listed' WHERE state = 'undelivered'")
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.drop_constraint('state', type_='check')
        batch_op.create_check_constraint('state', OLD_STATES)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('fault_since')
        batch_op.drop_column('progress')
        batch_op.drop_column('send_started_at')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claim_owner')
