"""province scale: the occurrence's state in SQL, tracked years, score watermark

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

Occurrences carry what makes them open or done (`done`, `completed_at`, `waived`, `is_open`,
`state_changed_at`), kept in the transaction of every submission, withdrawal, correction, waiver
and revocation (`scheduler.submissions.refresh_occurrences`), so queries and the planner select
open work in SQL. `tracked` marks the occurrences that are reminded. `tracked_year` records the
years materialised for every unit; `score_watermark` the last automatic score posting.

Backfill: the state columns are computed from the existing submissions and waivers (the rules
of scheduler/submissions.py: a submission counts unless withdrawn or replaced; a waiver is in
force unless revoked). Existing occurrences are tracked when they fall due on or after
1 January of the year the upgrade runs in (Asia/Shanghai), or were already reminded (an outbox
item names them); older ones created by a look at a past year are not.
"""
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('completed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('waived', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('is_open', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('tracked', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('state_changed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_occurrence_completed_at'), ['completed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_state_changed_at'), ['state_changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_is_open_due'), ['is_open', 'due'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_tracked_is_open_opens'),
                              ['tracked', 'is_open', 'opens'], unique=False)
    # The models declare no server defaults; the columns keep none once filled.
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        for name in ('done', 'waived', 'is_open', 'tracked'):
            batch_op.alter_column(name, server_default=None)

    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_recorded_at'), ['recorded_at'], unique=False)

    op.create_table('tracked_year',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('materialised_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_tracked_year'))
    )
    op.create_table('score_watermark',
    sa.Column('scorecard', sa.String(length=100), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('posted_at', sa.DateTime(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('scorecard', 'year', name=op.f('pk_score_watermark'))
    )
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    occurrence = sa.table('occurrence', sa.column('id'), sa.column('due', sa.Date), sa.column('required'),
                          sa.column('done'), sa.column('completed_at', sa.DateTime),
                          sa.column('waived', sa.Boolean), sa.column('is_open', sa.Boolean),
                          sa.column('tracked', sa.Boolean))
    subs = conn.execute(sa.text(
        "SELECT id, occurrence_id, submitted_at, withdrawn, corrects_id FROM submission")).fetchall()
    replaced = {r[4] for r in subs if r[4] is not None}
    counting: dict[int, list] = defaultdict(list)
    for sid, oid, at, withdrawn, _ in subs:
        if not withdrawn and sid not in replaced:
            counting[oid].append(at if isinstance(at, datetime) else datetime.fromisoformat(str(at)))
    waivers = conn.execute(sa.text("SELECT id, occurrence_id, revokes_id FROM waiver")).fetchall()
    revoked = {r[2] for r in waivers if r[2] is not None}
    waived = {oid for wid, oid, rev in waivers if rev is None and wid not in revoked}
    reminded = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT occurrence_id FROM outbox_item"))}
    start = date(datetime.now(ZoneInfo("Asia/Shanghai")).year, 1, 1)
    rows = conn.execute(sa.text("SELECT id, due, required FROM occurrence")).fetchall()
    changes = []
    for oid, due, required in rows:
        due = due if isinstance(due, date) else date.fromisoformat(str(due))
        times = sorted(counting.get(oid, ()))
        completed = times[required - 1] if len(times) >= required else None
        w = oid in waived
        tracked = due >= start or oid in reminded
        if times or w or not tracked:
            changes.append({"oid": oid, "done": len(times), "completed_at": completed, "waived": w,
                            "is_open": completed is None and not w, "tracked": tracked})
    if changes:
        conn.execute(occurrence.update().where(occurrence.c.id == sa.bindparam("oid")).values(
            done=sa.bindparam("done"), completed_at=sa.bindparam("completed_at"),
            waived=sa.bindparam("waived"), is_open=sa.bindparam("is_open"),
            tracked=sa.bindparam("tracked")), changes)


def downgrade() -> None:
    op.drop_table('score_watermark')
    op.drop_table('tracked_year')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_recorded_at'))
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrence_tracked_is_open_opens'))
        batch_op.drop_index(batch_op.f('ix_occurrence_is_open_due'))
        batch_op.drop_index(batch_op.f('ix_occurrence_state_changed_at'))
        batch_op.drop_index(batch_op.f('ix_occurrence_completed_at'))
        for name in ('state_changed_at', 'tracked', 'is_open', 'waived', 'completed_at', 'done'):
            batch_op.drop_column(name)
