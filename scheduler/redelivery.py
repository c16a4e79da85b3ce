"""Planning helpers for faults (issue 10): race-safe inserts and items planned again.

- ``insert_ignore``: INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL, so two passes
  planning at once (a daemon and an operator's tick) never fail on a unique key: the loser
  inserts nothing and reads what the winner wrote.
- ``redelivery_keys``: items whose message died for a channel reason (state ``undelivered``)
  are planned again in the person's next digest, unless the same occurrence and stage already
  reached that person through another channel (a message sent).
- ``healthy_routes``: a person with several channels is not planned onto a paused one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import insert
from sqlmodel import Session, col, select

from scheduler.models import Outbox, OutboxItem

UNDELIVERED = "undelivered"


def insert_ignore(session: Session, model, values: dict) -> bool:
    """Insert one row unless it violates a unique key; True when inserted."""
    name = session.get_bind().dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # pragma: no cover
        session.connection().execute(insert(model.__table__).values(**values))
        return True
    result = session.connection().execute(
        dialect_insert(model.__table__).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)


def insert_many_ignore(session: Session, model, rows: list[dict]) -> int:
    """Insert many rows, skipping those that violate a unique key; returns the rows inserted
    (as far as the driver tells)."""
    if not rows:
        return 0
    name = session.get_bind().dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # pragma: no cover
        session.connection().execute(insert(model.__table__), rows)
        return len(rows)
    result = session.connection().execute(dialect_insert(model.__table__).on_conflict_do_nothing(), rows)
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(rows)


def redelivery_keys(session: Session, occurrence_ids: Sequence[int]):
    """Keys (as ``obligations.reminders.entry_key``) of undelivered items to plan again."""
    from obligations.reminders import entry_key

    if not occurrence_ids:
        return set()
    undelivered = session.exec(
        select(OutboxItem.occurrence_id, OutboxItem.stage, OutboxItem.channel, OutboxItem.person_id)
        .where(col(OutboxItem.occurrence_id).in_(list(occurrence_ids)),
               OutboxItem.state == UNDELIVERED)).all()
    if not undelivered:
        return set()
    reached = set(session.exec(
        select(OutboxItem.occurrence_id, OutboxItem.stage, OutboxItem.person_id)
        .join(Outbox, col(Outbox.id) == col(OutboxItem.outbox_id))
        .where(col(OutboxItem.occurrence_id).in_([u[0] for u in undelivered]),
               Outbox.status == "sent", OutboxItem.state == "listed")).all())
    return {entry_key(str(o), s, c, str(p)) for o, s, c, p in undelivered
            if (o, s, p) not in reached}


def healthy_routes(routes: list[str], paused: Collection[str]) -> list[str]:
    """Leave out paused channels when the person has another one."""
    healthy = [r for r in routes if r not in paused]
    return healthy or routes
