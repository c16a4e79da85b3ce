"""lectures and orders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Lecture pre-approval (一会一报): `lecture`, its versions (`lecture_version`: registration,
changes, cancellation) and what happened to them (`lecture_action`: reported, approved,
rejected, held). Supervision orders (督办单): `supervision_order`, each tracked as the occurrence
`O<id>` of an ad_hoc obligation. All rows are append-only. See scheduler/lectures.py and
scheduler/orders.py.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lecture',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['unit_code'], ['unit.code'], name=op.f('fk_lecture_unit_code_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lecture'))
    )
    with op.batch_alter_table('lecture', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lecture_unit_code'), ['unit_code'], unique=False)

    op.create_table('supervision_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('obligation_key', sa.String(length=100), nullable=False),
    sa.Column('text', sa.String(length=2000), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('scorecard', sa.String(length=100), nullable=True),
    sa.Column('item', sa.String(length=20), nullable=True),
    sa.Column('deduct', sa.Float(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['unit_code'], ['unit.code'], name=op.f('fk_supervision_order_unit_code_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_order'))
    )
    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_order_unit_code'), ['unit_code'], unique=False)

    op.create_table('lecture_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('speaker', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('time_known', sa.Boolean(), nullable=False),
    sa.Column('categories', sa.String(length=200), nullable=False),
    sa.Column('obligation_key', sa.String(length=100), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("kind IN ('register', 'change', 'cancel')", name=op.f('ck_lecture_version_kind')),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_lecture_version_event_id_event')),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], name=op.f('fk_lecture_version_lecture_id_lecture')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lecture_version'))
    )
    with op.batch_alter_table('lecture_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lecture_version_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lecture_version_lecture_id'), ['lecture_id'], unique=False)

    op.create_table('lecture_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('time_known', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("action IN ('report', 'approve', 'reject', 'held')", name=op.f('ck_lecture_action_action')),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], name=op.f('fk_lecture_action_lecture_id_lecture')),
    sa.ForeignKeyConstraint(['version_id'], ['lecture_version.id'], name=op.f('fk_lecture_action_version_id_lecture_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lecture_action'))
    )
    with op.batch_alter_table('lecture_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lecture_action_lecture_id'), ['lecture_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lecture_action_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lecture_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lecture_action_version_id'))
        batch_op.drop_index(batch_op.f('ix_lecture_action_lecture_id'))

    op.drop_table('lecture_action')
    with op.batch_alter_table('lecture_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lecture_version_lecture_id'))
        batch_op.drop_index(batch_op.f('ix_lecture_version_event_id'))

    op.drop_table('lecture_version')
    with op.batch_alter_table('supervision_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_order_unit_code'))

    op.drop_table('supervision_order')
    with op.batch_alter_table('lecture', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lecture_unit_code'))

    op.drop_table('lecture')
