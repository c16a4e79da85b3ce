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
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from scheduler.models import Outbox, OutboxItem

UNDELIVERED = "undelivered"


def _dialect_insert(name: str):
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # pragma: no cover - other databases: a plain insert (a race fails as before)
        return None
    return dialect_insert


def dialect_insert_ignore(conn: Connection, table):
    """An INSERT into `table` that skips rows violating a unique key (SQLite, PostgreSQL)."""
    dialect_insert = _dialect_insert(conn.dialect.name)
    if dialect_insert is None:  # pragma: no cover
        return insert(table)
    return dialect_insert(table).on_conflict_do_nothing()


def insert_ignore_rows(conn: Connection, table, rows: dict | list[dict]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite, PostgreSQL) of one row (a dict) or many;
    returns the rows inserted as far as the driver tells (many rows: at most len(rows))."""
    many = isinstance(rows, list)
    if many and not rows:
        return 0
    dialect_insert = _dialect_insert(conn.dialect.name)
    if dialect_insert is None:  # pragma: no cover
        conn.execute(insert(table), rows) if many else conn.execute(insert(table).values(**rows))
        return len(rows) if many else 1
    stmt = dialect_insert(table).on_conflict_do_nothing()
    pk = list(table.primary_key.columns)
    if pk:
        # RETURNING counts what was really inserted; executemany's rowcount does not (psycopg
        # reports every row of an insertmanyvalues batch, or -1).
        stmt = stmt.returning(*pk)
    result = conn.execute(stmt, rows) if many else conn.execute(stmt.values(**rows))
    if pk:
        return len(result.all())
    count = result.rowcount
    return count if count is not None and count >= 0 else (len(rows) if many else 1)


def insert_ignore(session: Session, model, values: dict) -> bool:
    """Insert one row of ``model`` unless it violates a unique key; True when inserted."""
    return bool(insert_ignore_rows(session.connection(), model.__table__, values))


def insert_many_ignore(session: Session, model, rows: list[dict]) -> int:
    """Insert many rows of ``model``, skipping those that violate a unique key."""
    return insert_ignore_rows(session.connection(), model.__table__, rows)


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
