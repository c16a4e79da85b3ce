"""outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The reminder service's outbox: `outbox` (one message to one person on one channel, written
before it is sent; unique on topic, stage, channel, person) and `outbox_item` (the occurrences
each message tells, unique on occurrence, stage, channel, person). See scheduler/outbox.py.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=1000), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('body_markdown', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('send_at', sa.DateTime(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.String(length=2000), nullable=True),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'sending', 'sent', 'failed', 'dead', 'cancelled')", name=op.f('ck_outbox_status')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_outbox_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('topic', 'stage', 'channel', 'person_id', name=op.f('uq_outbox_topic_stage_channel_person_id'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)

    op.create_table('outbox_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.CheckConstraint("state IN ('listed', 'superseded', 'settled')", name=op.f('ck_outbox_item_state')),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], name=op.f('fk_outbox_item_occurrence_id_occurrence')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_outbox_item_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_outbox_item_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_item')),
    sa.UniqueConstraint('occurrence_id', 'stage', 'channel', 'person_id', name=op.f('uq_outbox_item_occurrence_id_stage_channel_person_id'))
    )
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_item_outbox_id'), ['outbox_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_item_outbox_id'))

    op.drop_table('outbox_item')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_status_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_person_id'))

    op.drop_table('outbox')
