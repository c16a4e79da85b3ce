"""The outbox: every reminder message is a row here before it is sent, and its state machine.

States (``models.OUTBOX_STATES``)::

    planned ──claim──> sending ──accepted──> sent
       ^                  │
       │                  ├─retryable error──> failed ──(next_attempt_at)──claim──> sending ...
       │                  ├─permanent error or retry limit──> dead
       │                  └─crash (found at start-up)──> failed, due at once
       └──── ``retry`` (operator) <── dead / failed
    planned / failed ──nothing left to tell──> cancelled

Crash safety rests on two rules kept here: a row is marked ``sending`` in a committed
transaction before its message goes on the wire (``claim_due``), and ``sent`` in a committed
transaction right after the server accepted it (``mark_result``). A process killed at any point
leaves each row either not yet ``sent`` (so it is sent again after the restart: nothing is lost)
or ``sent`` (never sent again). Only a message that was on the wire at the moment of the kill
can arrive twice, one per connection in flight.

Every function takes ``now`` (naive wall-clock time in the configured zone) and commits what it
changes: each state change is its own transaction, so no later failure can undo it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from notifiers.base import WECOM_ROBOT, Delivery, Message, Recipient
from scheduler.models import OUTBOX_STATES, Outbox, OutboxItem

PLANNED, SENDING, SENT, FAILED, DEAD, CANCELLED = OUTBOX_STATES
_outbox = Outbox.__table__  # Core statements: no ORM bookkeeping on the sending path
UNSENT = (PLANNED, FAILED)  # rows that may still change and be sent
ERROR_MAX = 2000
INTERRUPTED = "发送中断：服务在发送过程中停止，无法确定是否已送达，将重新发送"


class OutboxError(ValueError):
    """An operator request the outbox cannot honour (unknown id, already sent...)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: attempt k failed -> wait base * 2**(k-1), at most ``max_delay``.

    The defaults retry for about nine hours of sending-window time before a row goes dead, so
    a mail server that is down for an afternoon delivers everything once it is back."""

    max_attempts: int = 15
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failed attempt (1-based)."""
        exponent = max(attempts - 1, 0)
        # Cap the exponent first: 2**60 minutes would overflow timedelta.
        if exponent >= 32:
            return self.max_delay
        return min(self.base_delay * (2 ** exponent), self.max_delay)


DEFAULT_RETRY = RetryPolicy()


# --------------------------------------------------------------------------- the message

def message_key(row: Outbox) -> str:
    """The outbox key as one string: Message-ID, file names and logs are derived from it."""
    return f"{row.topic}/{row.stage}/{row.channel}/{row.person_id}"


def address_json(recipient: Recipient) -> str:
    return json.dumps({"name": recipient.name, "email": recipient.email,
                       "wecom_userid": recipient.wecom_userid, "mobile": recipient.mobile},
                      ensure_ascii=False, sort_keys=True)


def recipient_of(row: Outbox) -> Recipient:
    data: Mapping[str, Any] = json.loads(row.address or "{}")
    return Recipient(name=data.get("name") or "", email=data.get("email"),
                     wecom_userid=data.get("wecom_userid"), mobile=data.get("mobile"))


def to_message(row: Outbox) -> Message:
    """The channel message of a row: everything needed is stored on the row itself."""
    person = recipient_of(row)
    return Message(
        key=message_key(row),
        subject=row.title,
        text=row.body_text,
        html=row.body_html,
        markdown=row.body_markdown,
        recipients=(person,),
        # A group robot cannot address a person directly: it @-mentions them in the group.
        mentions=(person,) if row.channel == WECOM_ROBOT else (),
    )


# --------------------------------------------------------------------------- sending

def claim_due(session: Session, channel: str, now: datetime, limit: int) -> list[Outbox]:
    """Mark up to ``limit`` due rows of ``channel`` as ``sending`` (committed) and return them.

    Due: planned or failed with ``next_attempt_at <= now``, oldest first. The UPDATE re-checks
    the status, so two passes never claim the same row; a token identifies this claim."""
    token = uuid.uuid4().hex
    due = (select(_outbox.c.id)
           .where(_outbox.c.channel == channel, _outbox.c.status.in_(UNSENT),
                  _outbox.c.next_attempt_at <= now)
           .order_by(_outbox.c.next_attempt_at, _outbox.c.id)
           .limit(limit)
           .scalar_subquery())
    claim = (update(_outbox)
             .where(_outbox.c.id.in_(due), _outbox.c.status.in_(UNSENT))
             .values(status=SENDING, claim=token, claimed_at=now, updated_at=now,
                     attempts=_outbox.c.attempts + 1))
    if session.get_bind().dialect.update_returning:
        ids = list(session.execute(claim.returning(_outbox.c.id)).scalars())
    else:
        session.execute(claim)
        # The claim column is not indexed and sits behind the message bodies: find the
        # claimed rows once, by id from here on.
        ids = list(session.execute(select(_outbox.c.id).where(_outbox.c.claim == token)).scalars())
    session.commit()
    if not ids:
        return []
    # populate_existing: a session that loaded a row in an earlier claim must see its new
    # attempt count, not the one it remembers.
    rows = session.exec(select(Outbox).where(col(Outbox.id).in_(ids))
                        .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
                        .execution_options(populate_existing=True)).all()
    return list(rows)


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | failed | dead
    error: str | None
    next_attempt_at: datetime | None


def outcome_of(deliveries: Sequence[Delivery], attempts: int, now: datetime,
               retry: RetryPolicy = DEFAULT_RETRY) -> Outcome:
    """What a row becomes after its ``attempts``-th attempt returned ``deliveries``.

    A row is one message to one person: it is sent when every delivery is ok. A permanent
    error (a refused mailbox, a missing address, a revoked robot) makes it dead at once; a
    retryable one makes it failed with a back-off, or dead once the retry limit is reached."""
    failures = [d for d in deliveries if not d.ok]
    if deliveries and not failures:
        return Outcome(SENT, None, None)
    if not deliveries:
        failures = [Delivery.failure(None, "通道没有返回发送结果", retryable=True)]
    error = "；".join(dict.fromkeys(d.error or "未知错误" for d in failures))[:ERROR_MAX]
    if any(not d.retryable for d in failures):
        return Outcome(DEAD, error, None)
    if attempts >= retry.max_attempts:
        return Outcome(DEAD, f"重试 {attempts} 次仍失败：{error}"[:ERROR_MAX], None)
    return Outcome(FAILED, error, now + retry.delay(attempts))


# One statement for every outcome, built once: the dispatcher records thousands of results.
_RESULT = (update(_outbox)
           .where(_outbox.c.id == bindparam("row_id"), _outbox.c.status == SENDING)
           .values(status=bindparam("new_status"), claim=None, updated_at=bindparam("now"),
                   last_error=bindparam("error"),
                   sent_at=func.coalesce(bindparam("sent"), _outbox.c.sent_at),
                   next_attempt_at=func.coalesce(bindparam("next_at"), _outbox.c.next_attempt_at)))


def mark_result(db: Session | Connection, row: Outbox, deliveries: Sequence[Delivery],
                now: datetime, retry: RetryPolicy = DEFAULT_RETRY) -> Outcome:
    """Record the result of sending a claimed row, committed at once. ``db`` may be a plain
    connection: the dispatcher records thousands of results, one commit each."""
    outcome = outcome_of(deliveries, row.attempts, now, retry)
    db.execute(_RESULT, {"row_id": row.id, "new_status": outcome.status, "now": now,
                         "error": outcome.error, "sent": now if outcome.status == SENT else None,
                         "next_at": outcome.next_attempt_at})
    db.commit()
    return outcome


def release(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Claimed rows that were never put on the wire (the service is stopping): due again at
    once, and the claim does not count as an attempt."""
    if ids:
        session.execute(
            update(Outbox).where(col(Outbox.id).in_(list(ids)), Outbox.status == SENDING)
            .values(status=FAILED, claim=None, next_attempt_at=now, updated_at=now,
                    attempts=Outbox.attempts - 1)
            .execution_options(synchronize_session=False))
    session.commit()


def recover_interrupted(session: Session, now: datetime,
                        claimed_before: datetime | None = None) -> int:
    """Rows left in ``sending`` by a process that died: back to retryable, due at once.

    The daemon calls this at start-up for every such row (it is the only sender); a one-shot
    ``tick`` only for rows claimed before ``claimed_before`` (a lease), so it never takes rows
    away from a daemon that is sending them right now. Returns how many rows were recovered."""
    q = update(Outbox).where(Outbox.status == SENDING)
    if claimed_before is not None:
        q = q.where(col(Outbox.claimed_at) < claimed_before)
    result = session.execute(
        q.values(status=FAILED, claim=None, last_error=INTERRUPTED, next_attempt_at=now,
                 updated_at=now).execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount or 0


# --------------------------------------------------------------------------- operators

def retry(session: Session, row_id: int, now: datetime) -> Outbox:
    """Re-queue one failed or dead row: due again from its planned sending time, so the next
    pass in a sending window sends it; attempts start again from zero."""
    row = session.get(Outbox, row_id)
    if row is None:
        raise OutboxError(f"发件箱中没有编号为 {row_id} 的消息 (no outbox row {row_id})")
    if row.status not in (FAILED, DEAD):
        raise OutboxError(
            f"消息 {row_id} 的状态是 {row.status}，只有 failed 或 dead 的消息可以重新排队 "
            f"(only failed or dead rows can be retried)")
    _requeue(session, [row_id], now)
    session.refresh(row)
    return row


def retry_dead(session: Session, now: datetime) -> int:
    """Re-queue every dead row; returns how many."""
    ids = list(session.exec(select(Outbox.id).where(Outbox.status == DEAD)).all())
    _requeue(session, ids, now)
    return len(ids)


def _requeue(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(update(Outbox).where(col(Outbox.id).in_(list(ids)))
                        .values(status=PLANNED, attempts=0, next_attempt_at=Outbox.send_at,
                                updated_at=now)
                        .execution_options(synchronize_session=False))
    session.commit()


def rows(session: Session, status: str | None = None, limit: int | None = None) -> list[Outbox]:
    """Outbox rows, newest first; ``status`` filters."""
    if status is not None and status not in OUTBOX_STATES:
        raise OutboxError(f"未知状态 unknown status {status!r}（可选：{', '.join(OUTBOX_STATES)}）")
    q = select(Outbox).order_by(col(Outbox.id).desc())
    if status is not None:
        q = q.where(Outbox.status == status)
    if limit is not None:
        q = q.limit(limit)
    return list(session.exec(q).all())


def listing(session: Session, status: str | None = None,
            limit: int | None = None) -> list[dict[str, Any]]:
    """Outbox rows as flat JSON-ready records for ``ccal outbox`` (newest first)."""
    found = rows(session, status, limit)
    ids = [r.id for r in found]
    listed = dict(session.exec(
        select(OutboxItem.outbox_id, func.count()).where(
            col(OutboxItem.outbox_id).in_(ids), OutboxItem.state == "listed")
        .group_by(OutboxItem.outbox_id)).all()) if ids else {}
    out = []
    for r in found:
        person = recipient_of(r)
        out.append({
            "id": r.id, "key": message_key(r), "status": r.status, "channel": r.channel,
            "stage": r.stage, "window": r.topic.removeprefix("digest:"),
            "recipient": person.name,
            "address": person.email if r.channel == "email" else (
                person.wecom_userid or person.mobile or ""),
            "title": r.title, "items": listed.get(r.id, 0), "attempts": r.attempts,
            "send_at": r.send_at, "next_attempt_at": r.next_attempt_at if r.status in UNSENT
            else None, "sent_at": r.sent_at, "last_error": r.last_error,
        })
    return out


def counts(session: Session) -> dict[str, int]:
    """Number of rows per state (every state present, zeros included)."""
    found = dict(session.exec(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
    return {state: found.get(state, 0) for state in OUTBOX_STATES}
