"""Send the due outbox rows through their channels, one committed state change per message.

For each channel the dispatcher claims a batch of due rows (``outbox.claim_due``: marked
``sending`` and committed before anything goes on the wire), hands the messages to the channel
and records each result (``outbox.mark_result``: ``sent``/``failed``/``dead``, committed) as
soon as that message is done, before the same connection carries the next one. So a kill -9 at
any moment can leave at most one ambiguous message per connection in flight; everything else in
the batch is either recorded ``sent`` or was never put on the wire, and is sent after the
restart (``outbox.recover_interrupted``).

Two ways to drive a channel, chosen by what it offers:

- a channel with its own ``send_many`` taking ``on_result`` (called after each message, before
  that connection takes the next; the email channel) gets the whole batch: it reuses its
  connections, and ``on_result`` answers False once ``stop`` was called;
- any other channel gets one ``send`` per message from ``workers`` tasks
  (the channel's ``concurrency`` attribute, else 1), each recording its result before taking the
  next row.

Either way the number of messages in flight is at most the number of connections (workers).

Channels never raise (notifiers/base.py); an exception escaping one anyway is recorded on its
rows as a retryable error, and the other channels carry on.

Faults (docs/service.md, "Faults"):

- a channel fault (``Delivery.channel_fault``: bad login, refused or silent server, timeout,
  rate limit) stops that channel for the rest of the pass: no further message is started on
  it, the claimed rows not started go back at once, and the channel is paused
  (``delivery_health.pause``) until its back-off (or the ``retry_after`` it asked for) ends;
  passes skip a paused channel. The first success clears the pause;
- a pass has a deadline (``deadline``, seconds): after it no new message is started; while
  sending, the claims' lease is renewed, so no other process takes rows that are on the wire;
- a row is marked as going on the wire (``outbox_start``) before it is handed over, in the
  transaction that records the previous result, so after a crash only those are ambiguous;
- a store error (disk full, database gone) stops the pass: nothing more is started, the rows
  not started are released when the store allows it, results already known but not recorded
  are recorded if possible, and ``StoreError`` says what happened in Chinese;
- failures are logged once per channel and reason at the end of the pass, not once per row.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from notifiers.base import Channel, Delivery, fail_all
from scheduler import delivery_health, leases, outbox
from scheduler.models import Outbox

log = logging.getLogger(__name__)

DEFAULT_BATCH = 200


class StoreError(RuntimeError):
    """The database refused a write in the middle of a dispatch (disk full, database gone)."""


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    # (channel, status, reason) -> rows: one log line each at the end of the pass
    reasons: Counter = field(default_factory=Counter)
    stopped: dict[str, str] = field(default_factory=dict)   # channel -> why it stopped this pass
    paused: dict[str, datetime] = field(default_factory=dict)   # skipped: paused until
    released: int = 0                                       # claimed, not started, given back
    expired: int = 0        # unsent rows dead after a day of channel faults (items re-planned)

    def count(self, channel: str, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)
        per = self.by_channel.setdefault(channel, {"sent": 0, "failed": 0, "dead": 0})
        per[status] += 1

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.dead


def _streams_results(channel: Channel) -> bool:
    """Does the channel's own ``send_many`` report each result (``on_result``)? The base
    class's one sends a message at a time: per-message workers do better (``concurrency``)."""
    send_many = getattr(type(channel), "send_many", None)
    if send_many is None or send_many is Channel.send_many:
        return False
    try:
        return "on_result" in inspect.signature(send_many).parameters
    except (TypeError, ValueError):
        return False


def _workers(channel: Channel, limit: int | None) -> int:
    n = getattr(channel, "concurrency", 1)
    n = n if isinstance(n, int) and n >= 1 else 1
    return min(n, limit) if limit else n


class Dispatcher:
    """Sends due outbox rows. ``clock`` gives the time recorded on rows (the daemon's wall
    clock, or the fixed ``--now`` of a tick); ``retry`` is the back-off and retry limit;
    ``lease`` how long a claim holds without renewal; ``deadline`` (seconds) how long a pass
    may start new messages."""

    def __init__(self, engine: Engine, channels: Mapping[str, Channel], *,
                 clock: Callable[[], datetime], retry: outbox.RetryPolicy = outbox.DEFAULT_RETRY,
                 batch_size: int = DEFAULT_BATCH, max_workers: int | None = None,
                 lease: timedelta = outbox.DEFAULT_LEASE, deadline: float | None = None) -> None:
        self.engine = engine
        self.channels = dict(channels)
        self.clock = clock
        self.retry = retry
        self.batch_size = batch_size
        self.max_workers = max_workers
        self.lease = lease
        self.deadline = deadline if deadline is not None else lease.total_seconds() / 2
        self.owner = leases.this_process()
        self._stopping = False
        self._halted: set[str] = set()       # channels stopped for this pass
        self._paused: dict[str, tuple[datetime, datetime]] = {}   # paused this pass: (until, since)
        self._ends_at = float("inf")
        self._store_error: BaseException | None = None
        self._unrecorded: list[tuple[Outbox, Sequence[Delivery]]] = []

    def stop(self) -> None:
        """Finish the messages in flight, start no new ones (SIGTERM)."""
        self._stopping = True

    def _may_start(self, route: str) -> bool:
        return not (self._stopping or route in self._halted or self._store_error is not None
                    or time.monotonic() >= self._ends_at)

    async def dispatch(self, routes: Sequence[str] | None = None) -> DispatchReport:
        """Send every row that is due now, channel by channel concurrently, batch after batch,
        until none is left (or ``stop`` was called, or the deadline passed)."""
        report = DispatchReport()
        self._halted, self._store_error, self._unrecorded = set(), None, []
        self._paused: dict[str, tuple[datetime, datetime]] = {}
        self._ends_at = time.monotonic() + self.deadline
        names = [r for r in (routes or self.channels) if r in self.channels]
        renewing = asyncio.ensure_future(self._renew_leases())
        try:
            await asyncio.gather(*(self._drain(name, report) for name in names))
        finally:
            renewing.cancel()
        self._log_reasons(report)
        if self._store_error is not None:
            raise StoreError(self._store_message(report)) from self._store_error
        return report

    async def _renew_leases(self) -> None:
        every = max(min(self.lease.total_seconds() / 3, 60.0), 0.05)
        while True:
            await asyncio.sleep(every)
            try:
                # In a worker thread: a store that is busy (SQLite waits up to its busy timeout)
                # must not stall the messages on the wire, nor the results that free the store.
                await asyncio.to_thread(self._renew_once)
            except SQLAlchemyError as exc:  # the next renewal tries again; the lease is long
                log.warning("renewing the sending lease failed: %s", exc)

    def _renew_once(self) -> None:
        with self.engine.connect() as conn:
            outbox.renew(conn, self.owner, self.lease)

    async def _drain(self, route: str, report: DispatchReport) -> None:
        channel = self.channels[route]
        # Claims load rows through a session; results are one small UPDATE + commit each, on a
        # plain connection (a fraction of the cost through the session).
        try:
            with Session(self.engine, expire_on_commit=False) as session, \
                    self.engine.connect() as results:
                until = delivery_health.paused_until(results, route, self.clock())
                results.commit()
                if until is not None:
                    report.paused[route] = until
                    return
                unhealthy = delivery_health.failing(results, route)
                results.commit()
                while self._may_start(route):
                    batch = outbox.claim_due(session, route, self.clock(), self.batch_size,
                                             owner=self.owner, lease=self.lease)
                    if not batch:
                        return
                    # A row is claimed once per pass: rows that failed go back with a later
                    # next_attempt_at, so this loop ends.
                    unhealthy = await self._send_batch(results, route, channel, batch, report,
                                                       unhealthy)
                    if route in self._halted and route in report.stopped:
                        # Failing for a day: the rows waiting that long die, items re-planned.
                        since = delivery_health.failing_since(results, route)
                        if since is not None:
                            report.expired += outbox.expire_for_channel(
                                results, route, self.clock(), since,
                                delivery_health.reason_of(report.stopped[route]))
        except SQLAlchemyError as exc:
            self._store_failed(exc)

    def _store_failed(self, exc: BaseException) -> None:
        if self._store_error is None:
            self._store_error = exc
            log.error("database write failed during dispatch: %s", exc)

    async def _send_batch(self, results: Connection, route: str, channel: Channel,
                          batch: list[Outbox], report: DispatchReport, unhealthy: bool) -> bool:
        health = {"unhealthy": unhealthy}

        def record(row: Outbox, deliveries: Sequence[Delivery], start_ids: Sequence[int] = ()) -> bool:
            """Record one result; False when the channel must start nothing more this pass."""
            if self._store_error is not None:
                self._unrecorded.append((row, deliveries))
                return False
            now = self.clock()
            try:
                fault = next((d for d in deliveries if not d.ok and d.channel_fault), None)
                retry_at = since = None
                if fault is not None and all(d.ok or d.channel_fault for d in deliveries):
                    if route not in self._paused:   # one step of back-off per pass, not per row
                        self._paused[route] = delivery_health.pause(
                            results, route, now, fault.error or "", fault.retry_after, self.retry)
                    retry_at, since = self._paused[route]
                    health["unhealthy"] = True
                    # A row dies of a channel fault once both it and the channel have been
                    # waiting a day (not a day after its own first try: most are never tried).
                    since = max(since, row.send_at)
                result = outbox.mark_result(results, row, deliveries, now, self.retry,
                                            channel_retry_at=retry_at, start_ids=start_ids,
                                            fault_since=since)
                if fault is not None and retry_at is not None and route not in self._halted:
                    self._halted.add(route)
                    report.stopped[route] = fault.error or ""
                if result.status == outbox.SENT and health["unhealthy"]:
                    delivery_health.clear(results, route, now)
                    health["unhealthy"] = False
            except SQLAlchemyError as exc:
                try:
                    results.rollback()
                except SQLAlchemyError:
                    pass
                self._store_failed(exc)
                self._unrecorded.append((row, deliveries))
                return False
            report.count(route, result.status)
            if result.status != outbox.SENT:
                report.reasons[(route, result.status, delivery_health.reason_of(result.error))] += 1
            return self._may_start(route)

        if _streams_results(channel):
            await self._send_streamed(results, route, channel, batch, record, report)
        else:
            await self._send_each(results, route, channel, batch, record, report)
        return health["unhealthy"]

    def _start(self, results: Connection, ids: Sequence[int]) -> bool:
        try:
            outbox.mark_started(results, ids, self.clock())
            return True
        except SQLAlchemyError as exc:
            self._store_failed(exc)
            return False

    async def _send_streamed(self, results: Connection, route: str, channel: Channel,
                             batch: list[Outbox], record, report: DispatchReport) -> None:
        done: set[int] = set()
        # The channel takes messages in order over at most `workers` connections: the first
        # `workers` go on the wire now, and each result lets the next one start (marked in the
        # result's own transaction).
        workers = _workers(channel, self.max_workers)
        started = min(workers, len(batch))
        if not self._start(results, [r.id for r in batch[:started]]):
            self._release(route, batch, report)
            return
        pointer = {"next": started}

        def on_result(index: int, deliveries: Sequence[Delivery]) -> bool:
            done.add(index)
            nxt = pointer["next"]
            start_ids = []
            if nxt < len(batch) and self._may_start(route):
                start_ids = [batch[nxt].id]
                pointer["next"] = nxt + 1
            return record(batch[index], deliveries, start_ids)  # False: start nothing more

        messages = [outbox.to_message(row) for row in batch]
        try:
            await channel.send_many(messages, on_result=on_result)
        except Exception as exc:  # a channel bug: the rows it did not report stay retryable
            self._record_crash(batch, done, exc, record)
            return
        self._release(route, [row for i, row in enumerate(batch) if i not in done], report)

    async def _send_each(self, results: Connection, route: str, channel: Channel,
                         batch: list[Outbox], record, report: DispatchReport) -> None:
        queue = list(reversed(batch))

        async def worker() -> None:
            while queue and self._may_start(route):
                row = queue.pop()
                if not self._start(results, [row.id]):
                    queue.append(row)
                    return
                message = outbox.to_message(row)
                try:
                    deliveries = await channel.send(message)
                except Exception as exc:
                    deliveries = fail_all(message, _crash_text(exc), retryable=True)
                record(row, deliveries)

        await asyncio.gather(*(worker() for _ in range(_workers(channel, self.max_workers))))
        self._release(route, queue, report)

    def _release(self, route: str, rows: Sequence[Outbox], report: DispatchReport) -> None:
        """Rows not started (stop, a channel fault, the deadline, a store error): back to
        retryable now rather than at the next start-up (they never went on the wire)."""
        if not rows:
            return
        try:
            with Session(self.engine) as session:
                now = self.clock()
                outbox.release(session, [row.id for row in rows], now,
                               delivery_health.paused_until(session, route, now))
            report.released += len(rows)
        except SQLAlchemyError as exc:  # they stay `sending`; recovery frees them (owner gone)
            self._store_failed(exc)

    @staticmethod
    def _record_crash(batch, done, exc, record) -> None:
        for i, row in enumerate(batch):
            if i not in done:
                record(row, fail_all(outbox.to_message(row), _crash_text(exc), retryable=True))

    def _log_reasons(self, report: DispatchReport) -> None:
        """One line per channel and reason, not one per row."""
        words = {"failed": "失败待重试", "dead": "已放弃"}
        for (route, status, reason), n in sorted(report.reasons.items()):
            log.warning("%s: %d 条%s：%s", route, n, words.get(status, status), reason)
        for route, why in sorted(report.stopped.items()):
            log.warning("%s: 本轮停止发送（%s）", route, why)
        for route, until in sorted(report.paused.items()):   # every minute while paused: quiet
            log.debug("%s: paused until %s", route, until)

    def _store_message(self, report: DispatchReport) -> str:
        """Record what is known now that the store may accept it again, and say what happened."""
        recorded = 0
        try:
            with self.engine.connect() as conn:
                for row, deliveries in self._unrecorded:
                    outbox.mark_result(conn, row, deliveries, self.clock(), self.retry)
                    recorded += 1
        except SQLAlchemyError:
            pass
        unknown = len(self._unrecorded) - recorded
        reason = getattr(self._store_error, "orig", None) or self._store_error
        return (f"数据库写入失败，发送已停止（{reason}）。本轮已发送 {report.sent} 条并已记录；"
                f"未开始发送的消息已放回待发送（{report.released} 条）"
                + (f"；{unknown} 条已发出但未能记录结果，修复后重启服务或再次运行 tick 时将重新发送"
                   f"（同一 Message-ID）" if unknown else "")
                + "。请检查磁盘空间和数据库文件，然后再次运行。")

    async def aclose(self) -> None:
        for channel in {id(c): c for c in self.channels.values()}.values():
            try:
                await channel.aclose()
            except Exception as exc:  # closing must not hide what happened before
                log.warning("closing channel %s: %s", channel.name, exc)


def _crash_text(exc: BaseException) -> str:
    # No message text: a bug's exception could carry a secret the channel did not scrub.
    return f"通道内部错误 {type(exc).__name__}"
