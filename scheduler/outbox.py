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

Faults (docs/service.md, "Faults"): a claim records its owner process and a lease (UTC real
time, renewed while sending); a row whose send began is marked (``outbox_start``), so after
a crash only those count as ambiguous and the others go back without a duplicate risk. A
failure that belongs to the channel (``Delivery.channel_fault``) does not count as an attempt:
the row waits for the channel and stays retryable for ``CHANNEL_FAULT_GRACE``; if it dies
then, its items are marked ``undelivered`` and planned again in the person's next digest.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, func, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from notifiers.base import WECOM_ROBOT, Delivery, Message, Recipient
from scheduler import leases
from scheduler.models import OUTBOX_STATES, Outbox, OutboxItem, OutboxStart

PLANNED, SENDING, SENT, FAILED, DEAD, CANCELLED = OUTBOX_STATES
_outbox = Outbox.__table__  # Core statements: no ORM bookkeeping on the sending path
UNSENT = (PLANNED, FAILED)  # rows that may still change and be sent
ERROR_MAX = 2000
INTERRUPTED = "发送中断：服务在发送过程中停止，无法确定是否已送达，将重新发送"
_item = OutboxItem.__table__
_start = OutboxStart.__table__
UNDELIVERED = "undelivered"   # outbox_item state: its message died for a channel reason
CHANNEL_FAULT_GRACE = timedelta(days=1)
CHANNEL_DEAD_PREFIX = "通道故障超过一天仍未恢复："
DEFAULT_LEASE = timedelta(minutes=30)


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
        progress=row.progress,
    )


# --------------------------------------------------------------------------- sending

def claim_due(session: Session, channel: str, now: datetime, limit: int, *,
              owner: str | None = None, lease: timedelta = DEFAULT_LEASE) -> list[Outbox]:
    """Mark up to ``limit`` due rows of ``channel`` as ``sending`` (committed) and return them.

    Due: planned or failed with ``next_attempt_at <= now``, oldest first. The UPDATE re-checks
    the status, so two passes never claim the same row; a token identifies this claim, and the
    claim records its owner process and a lease (UTC real time). On PostgreSQL the due rows are
    selected ``FOR UPDATE SKIP LOCKED``: several daemons claim disjoint batches without waiting
    on each other."""
    token = uuid.uuid4().hex
    due = (select(_outbox.c.id)
           .where(_outbox.c.channel == channel, _outbox.c.status.in_(UNSENT),
                  _outbox.c.next_attempt_at <= now)
           .order_by(_outbox.c.next_attempt_at, _outbox.c.id)
           .limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (update(_outbox)
             .where(_outbox.c.id.in_(due.scalar_subquery()), _outbox.c.status.in_(UNSENT))
             .values(status=SENDING, claim=token, claimed_at=now, updated_at=now,
                     claim_owner=owner or leases.this_process(),
                     lease_until=leases.utc_now() + lease,
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


def _started_statement(dialect: str, now_param, many: bool):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    source = (select(_outbox.c.id, _outbox.c.claim, now_param)
              .where(_outbox.c.id.in_(bindparam("ids", expanding=True)) if many
                     else _outbox.c.id == bindparam("id"),
                     _outbox.c.status == SENDING, _outbox.c.claim.is_not(None)))
    stmt = dialect_insert(_start).from_select(["outbox_id", "claim", "started_at"], source)
    return stmt.on_conflict_do_update(index_elements=["outbox_id"],
                                      set_={"claim": stmt.excluded.claim,
                                            "started_at": stmt.excluded.started_at})


_STARTED: dict[str, Any] = {}


def mark_started(db: Session | Connection, ids: Sequence[int], now: datetime, *,
                 commit: bool = True) -> None:
    """These claimed rows go on the wire now: after a crash they count as ambiguous. Recorded
    in the narrow ``outbox_start`` table (the claim they went out under), not on the row."""
    if ids:
        name = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
        many = len(ids) > 1   # one id (each result starts the next row): no expanding IN
        if (name, many) not in _STARTED:
            _STARTED[(name, many)] = _started_statement(name, bindparam("now", type_=DateTime()), many)
        db.execute(_STARTED[(name, many)],
                   {"ids": list(ids), "now": now} if many else {"id": ids[0], "now": now})
    if commit:
        db.commit()


def renew(db: Connection, owner: str, lease: timedelta) -> int:
    """Extend the lease of every row this owner is sending (the dispatcher, while it sends)."""
    result = db.execute(update(_outbox).where(_outbox.c.claim_owner == owner,
                                              _outbox.c.status == SENDING)
                        .values(lease_until=leases.utc_now() + lease))
    db.commit()
    return result.rowcount or 0


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | failed | dead
    error: str | None
    next_attempt_at: datetime | None
    channel_fault: bool = False          # the channel's trouble, not this message's
    retry_after: float | None = None     # seconds the channel asked to wait
    counted: bool = True                 # the attempt counts towards max_attempts


def outcome_of(deliveries: Sequence[Delivery], attempts: int, now: datetime,
               retry: RetryPolicy = DEFAULT_RETRY, *, fault_since: datetime | None = None,
               channel_retry_at: datetime | None = None) -> Outcome:
    """What a row becomes after its ``attempts``-th attempt returned ``deliveries``.

    A row is one message to one person: it is sent when every delivery is ok. A permanent
    error of the recipient (a refused mailbox, a missing address) makes it dead at once; a
    retryable one makes it failed with a back-off, or dead once the retry limit is reached.
    A failure of the channel (every failed delivery has ``channel_fault``: a bad login, a
    refused or silent connection, a rate limit) is not counted as an attempt: the row waits for
    the channel (``channel_retry_at``, else the first back-off step) and dies only when the
    channel has been failing for ``CHANNEL_FAULT_GRACE`` since ``fault_since``."""
    failures = [d for d in deliveries if not d.ok]
    if deliveries and not failures:
        return Outcome(SENT, None, None)
    if not deliveries:
        failures = [Delivery.failure(None, "通道没有返回发送结果", retryable=True)]
    error = "；".join(dict.fromkeys(d.error or "未知错误" for d in failures))[:ERROR_MAX]
    if all(d.channel_fault for d in failures):
        after = max((d.retry_after or 0 for d in failures), default=0)
        if now - (fault_since or now) >= CHANNEL_FAULT_GRACE:
            return Outcome(DEAD, f"{CHANNEL_DEAD_PREFIX}{error}"[:ERROR_MAX], None,
                           channel_fault=True, retry_after=after or None, counted=False)
        wait_until = max(channel_retry_at or now + retry.delay(1), now + timedelta(seconds=after))
        return Outcome(FAILED, error, wait_until, channel_fault=True, retry_after=after or None,
                       counted=False)
    if any(not d.retryable for d in failures):
        return Outcome(DEAD, error, None)
    if attempts >= retry.max_attempts:
        return Outcome(DEAD, f"重试 {attempts} 次仍失败：{error}"[:ERROR_MAX], None)
    return Outcome(FAILED, error, now + retry.delay(attempts))


# One statement for every outcome, built once: the dispatcher records thousands of results.
_RESULT = (update(_outbox)
           .where(_outbox.c.id == bindparam("row_id"), _outbox.c.status == SENDING)
           .values(status=bindparam("new_status"), claim=None, claim_owner=None, lease_until=None,
                   updated_at=bindparam("now"), last_error=bindparam("error"),
                   sent_at=func.coalesce(bindparam("sent"), _outbox.c.sent_at),
                   next_attempt_at=func.coalesce(bindparam("next_at"), _outbox.c.next_attempt_at),
                   attempts=_outbox.c.attempts - bindparam("uncount"),
                   progress=bindparam("progress"), fault_since=bindparam("fault_since")))


def mark_result(db: Session | Connection, row: Outbox, deliveries: Sequence[Delivery],
                now: datetime, retry: RetryPolicy = DEFAULT_RETRY, *,
                channel_retry_at: datetime | None = None, start_ids: Sequence[int] = (),
                fault_since: datetime | None = None) -> Outcome:
    """Record the result of sending a claimed row, committed at once (together with marking
    ``start_ids`` as going on the wire next). ``db`` may be a plain connection: the dispatcher
    records thousands of results, one commit each."""
    since = min(filter(None, (row.fault_since, fault_since)), default=None)
    outcome = outcome_of(deliveries, row.attempts, now, retry, fault_since=since,
                         channel_retry_at=channel_retry_at)
    sent = outcome.status == SENT
    progress = None if sent else next((d.progress for d in deliveries if d.progress), row.progress)
    db.execute(_RESULT, {"row_id": row.id, "new_status": outcome.status, "now": now,
                         "error": outcome.error, "sent": now if sent else None,
                         "next_at": outcome.next_attempt_at, "uncount": 0 if outcome.counted else 1,
                         "progress": progress,
                         "fault_since": (since or now) if outcome.channel_fault else None})
    if outcome.status == DEAD and outcome.channel_fault:
        # Died for the channel's sake: its items are planned again in the next digest.
        db.execute(update(_item).where(_item.c.outbox_id == row.id, _item.c.state == "listed")
                   .values(state=UNDELIVERED))
    if start_ids:
        mark_started(db, start_ids, now, commit=False)
    db.commit()
    return outcome


def expire_for_channel(db: Connection, channel: str, now: datetime, failing_since: datetime,
                       reason: str) -> int:
    """The channel has been failing for ``CHANNEL_FAULT_GRACE``: its unsent rows that have been
    waiting that long die (their items are planned again in the next digest). Committed."""
    if now - failing_since < CHANNEL_FAULT_GRACE:
        return 0
    ids = list(db.execute(select(_outbox.c.id).where(
        _outbox.c.channel == channel, _outbox.c.status.in_(UNSENT),
        _outbox.c.send_at <= now - CHANNEL_FAULT_GRACE)).scalars())
    if ids:
        db.execute(update(_outbox).where(_outbox.c.id.in_(ids), _outbox.c.status.in_(UNSENT))
                   .values(status=DEAD, last_error=f"{CHANNEL_DEAD_PREFIX}{reason}"[:ERROR_MAX],
                           updated_at=now))
        db.execute(update(_item).where(_item.c.outbox_id.in_(ids), _item.c.state == "listed")
                   .values(state=UNDELIVERED))
    db.commit()
    return len(ids)


def release(session: Session, ids: Sequence[int], now: datetime,
            next_at: datetime | None = None) -> None:
    """Claimed rows that were never put on the wire (the service is stopping, the channel
    failed): due again at once (or at ``next_at``, when the channel is paused until then), and
    the claim does not count as an attempt."""
    if ids:
        session.execute(
            update(Outbox).where(col(Outbox.id).in_(list(ids)), Outbox.status == SENDING)
            .values(status=FAILED, claim=None, claim_owner=None, lease_until=None,
                    next_attempt_at=max(now, next_at or now), updated_at=now,
                    attempts=Outbox.attempts - 1)
            .execution_options(synchronize_session=False))
    session.commit()


class Recovery(int):
    """How many ``sending`` rows a recovery put back (an int), split into ``ambiguous`` (their
    send had begun: the message may have arrived, it is sent again with the same key) and
    ``released`` (claimed but never started: no duplicate risk)."""

    ambiguous: int
    released: int

    def __new__(cls, ambiguous: int = 0, released: int = 0) -> "Recovery":
        self = super().__new__(cls, ambiguous + released)
        self.ambiguous, self.released = ambiguous, released
        return self


def recover_interrupted(session: Session, now: datetime,
                        claimed_before: datetime | None = None) -> Recovery:
    """Rows left in ``sending`` by a process that died: back to retryable, due at once.

    A row is taken back when its claim's owner is dead on this host (at once), or its lease
    (renewed while its owner sends) has run out. Rows claimed before owners were recorded fall
    back to ``claimed_before`` (a tick's lease on the service clock; None: every such row).
    Rows whose send had begun are marked interrupted (ambiguous); the others go back as if
    never claimed (the attempt does not count)."""
    real_now = leases.utc_now()
    candidates = session.execute(
        select(_outbox.c.id, _outbox.c.claim_owner, _outbox.c.lease_until,
               _outbox.c.claimed_at, (_start.c.claim == _outbox.c.claim).label("started"))
        .select_from(_outbox.outerjoin(_start, _start.c.outbox_id == _outbox.c.id))
        .where(_outbox.c.status == SENDING)).all()
    started, unstarted = [], []
    for row in candidates:
        if row.claim_owner:
            gone = (row.lease_until is not None and row.lease_until < real_now) \
                or leases.alive(row.claim_owner) is False
        else:
            gone = claimed_before is None or (row.claimed_at is not None
                                              and row.claimed_at < claimed_before)
        if gone:
            (started if row.started or not row.claim_owner else unstarted).append(row.id)
    common = dict(status=FAILED, claim=None, claim_owner=None, lease_until=None,
                  next_attempt_at=now, updated_at=now)
    for ids, values in ((started, {"last_error": INTERRUPTED}),
                        (unstarted, {"attempts": _outbox.c.attempts - 1})):
        for chunk in range(0, len(ids), 500):
            session.execute(update(_outbox).where(_outbox.c.id.in_(ids[chunk:chunk + 500]),
                                                  _outbox.c.status == SENDING)
                            .values(**common, **values))
    session.commit()
    return Recovery(len(started), len(unstarted))


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
                                fault_since=None, updated_at=now)
                        .execution_options(synchronize_session=False))
    session.commit()


def rows(session: Session, status: str | None = None, limit: int | None = None) -> list[Outbox]:
    """Outbox rows, newest first; ``status`` filters."""
    if status is not None and status not in OUTBOX_STATES:
        raise OutboxError(f"未知状态 {status!r}（可选：{', '.join(OUTBOX_STATES)}）")
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
