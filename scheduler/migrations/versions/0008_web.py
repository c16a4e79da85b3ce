"""web

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

The web (scheduler/web/, docs/web.md): staff accounts (`staff_user`, argon2 hashes), personal
links of the people reminded (`personal_link`: only the token's hash), the department's review
of submissions (`submission_review`: accepted / returned, append-only) and the audit log of
every web action (`web_audit`).
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role IN ('propaganda', 'viewer')", name=op.f('ck_staff_user_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_user')),
    sa.UniqueConstraint('name', name=op.f('uq_staff_user_name'))
    )
    op.create_table('personal_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_personal_link_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_personal_link_token_hash'))
    )
    with op.batch_alter_table('personal_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_personal_link_person_id'), ['person_id'], unique=False)

    op.create_table('submission_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('reviewed_by', sa.String(length=100), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("decision IN ('accepted', 'returned')", name=op.f('ck_submission_review_decision')),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_submission_review_submission_id_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_review'))
    )
    with op.batch_alter_table('submission_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_review_submission_id'), ['submission_id'], unique=True)

    op.create_table('web_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.String(length=2000), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_audit'))
    )
    with op.batch_alter_table('web_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_audit_action_actor_at'), ['action', 'actor', 'at'], unique=False)


    op.create_table('service_pass',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.Column('clock', sa.DateTime(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_pass'))
    )


def downgrade() -> None:
    op.drop_table('service_pass')
    with op.batch_alter_table('web_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_audit_action_actor_at'))
    op.drop_table('web_audit')
    with op.batch_alter_table('submission_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_review_submission_id'))
    op.drop_table('submission_review')
    with op.batch_alter_table('personal_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_personal_link_person_id'))
    op.drop_table('personal_link')
    op.drop_table('staff_user')
