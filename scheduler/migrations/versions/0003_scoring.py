"""scoring

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

The scorecard's ledger: `score_entry` (every score change of a unit on an item, never edited;
the latest entry of a slot counts), `finding` (violations found in inspections, with their
deductions) and `score_notice` (deductions already told to the unit). See scheduler/ledger.py.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scorecard', sa.String(length=100), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=20), nullable=False),
    sa.Column('found_on', sa.Date(), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('deduct', sa.Float(), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=200), nullable=True),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['corrects_id'], ['finding.id'], name=op.f('fk_finding_corrects_id_finding')),
    sa.ForeignKeyConstraint(['unit_code'], ['unit.code'], name=op.f('fk_finding_unit_code_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding')),
    sa.UniqueConstraint('key', name=op.f('uq_finding_key'))
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_corrects_id'), ['corrects_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_unit_code'), ['unit_code'], unique=False)

    op.create_table('score_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scorecard', sa.String(length=100), nullable=False),
    sa.Column('unit_code', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=20), nullable=False),
    sa.Column('rule', sa.String(length=50), nullable=False),
    sa.Column('slot', sa.String(length=100), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('auto', 'manual', 'unset', 'finding')", name=op.f('ck_score_entry_kind')),
    sa.ForeignKeyConstraint(['corrects_id'], ['score_entry.id'], name=op.f('fk_score_entry_corrects_id_score_entry')),
    sa.ForeignKeyConstraint(['unit_code'], ['unit.code'], name=op.f('fk_score_entry_unit_code_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_entry'))
    )
    with op.batch_alter_table('score_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_entry_corrects_id'), ['corrects_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_score_entry_scorecard_year_unit_code_item_slot'), ['scorecard', 'year', 'unit_code', 'item', 'slot'], unique=False)

    op.create_table('score_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('notified_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['score_entry.id'], name=op.f('fk_score_notice_entry_id_score_entry')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_score_notice_outbox_id_outbox')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_score_notice_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_notice')),
    sa.UniqueConstraint('entry_id', 'person_id', 'channel', name=op.f('uq_score_notice_entry_id_person_id_channel'))
    )
    with op.batch_alter_table('score_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_notice_entry_id'), ['entry_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('score_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_notice_entry_id'))

    op.drop_table('score_notice')
    with op.batch_alter_table('score_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_entry_scorecard_year_unit_code_item_slot'))
        batch_op.drop_index(batch_op.f('ix_score_entry_corrects_id'))

    op.drop_table('score_entry')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_unit_code'))
        batch_op.drop_index(batch_op.f('ix_finding_corrects_id'))

    op.drop_table('finding')
