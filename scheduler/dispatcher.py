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
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from notifiers.base import Channel, Delivery, fail_all
from scheduler import outbox
from scheduler.models import Outbox

log = logging.getLogger(__name__)

DEFAULT_BATCH = 200


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

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
    clock, or the fixed ``--now`` of a tick); ``retry`` is the back-off and retry limit."""

    def __init__(self, engine: Engine, channels: Mapping[str, Channel], *,
                 clock: Callable[[], datetime], retry: outbox.RetryPolicy = outbox.DEFAULT_RETRY,
                 batch_size: int = DEFAULT_BATCH, max_workers: int | None = None) -> None:
        self.engine = engine
        self.channels = dict(channels)
        self.clock = clock
        self.retry = retry
        self.batch_size = batch_size
        self.max_workers = max_workers
        self._stopping = False

    def stop(self) -> None:
        """Finish the messages in flight, start no new ones (SIGTERM)."""
        self._stopping = True

    async def dispatch(self, routes: Sequence[str] | None = None) -> DispatchReport:
        """Send every row that is due now, channel by channel concurrently, batch after batch,
        until none is left (or ``stop`` was called)."""
        report = DispatchReport()
        names = [r for r in (routes or self.channels) if r in self.channels]
        await asyncio.gather(*(self._drain(name, report) for name in names))
        return report

    async def _drain(self, route: str, report: DispatchReport) -> None:
        channel = self.channels[route]
        # Claims load rows through a session; results are one small UPDATE + commit each, on a
        # plain connection (a fraction of the cost through the session).
        with Session(self.engine, expire_on_commit=False) as session, \
                self.engine.connect() as results:
            while not self._stopping:
                batch = outbox.claim_due(session, route, self.clock(), self.batch_size)
                if not batch:
                    return
                # A row is claimed once per pass: rows that failed go back with a later
                # next_attempt_at, so this loop ends.
                await self._send_batch(results, route, channel, batch, report)

    async def _send_batch(self, results: Connection, route: str, channel: Channel,
                          batch: list[Outbox], report: DispatchReport) -> None:
        def record(row: Outbox, deliveries: Sequence[Delivery]) -> None:
            result = outbox.mark_result(results, row, deliveries, self.clock(), self.retry)
            report.count(route, result.status)
            if result.status != outbox.SENT:
                log.warning("outbox %s (%s): %s: %s", row.id, route, result.status, result.error)

        if _streams_results(channel):
            await self._send_streamed(channel, batch, record)
        else:
            await self._send_each(channel, batch, record)

    async def _send_streamed(self, channel: Channel, batch: list[Outbox], record) -> None:
        done: set[int] = set()

        def on_result(index: int, deliveries: Sequence[Delivery]) -> bool:
            done.add(index)
            record(batch[index], deliveries)
            return not self._stopping  # False: the channel starts no further message

        messages = [outbox.to_message(row) for row in batch]
        try:
            await channel.send_many(messages, on_result=on_result)
        except Exception as exc:  # a channel bug: the rows it did not report stay retryable
            self._record_crash(batch, done, exc, record)
            return
        self._release([row for i, row in enumerate(batch) if i not in done])

    async def _send_each(self, channel: Channel, batch: list[Outbox], record) -> None:
        queue = list(reversed(batch))

        async def worker() -> None:
            while queue and not self._stopping:
                row = queue.pop()
                message = outbox.to_message(row)
                try:
                    deliveries = await channel.send(message)
                except Exception as exc:
                    deliveries = fail_all(message, _crash_text(exc), retryable=True)
                record(row, deliveries)

        await asyncio.gather(*(worker() for _ in range(_workers(channel, self.max_workers))))
        self._release(queue)

    def _release(self, rows: Sequence[Outbox]) -> None:
        """Rows not started because of stop(): back to retryable now rather than at the next
        start-up (they never went on the wire)."""
        if rows:
            with Session(self.engine) as session:
                outbox.release(session, [row.id for row in rows], self.clock())

    @staticmethod
    def _record_crash(batch, done, exc, record) -> None:
        for i, row in enumerate(batch):
            if i not in done:
                record(row, fail_all(outbox.to_message(row), _crash_text(exc), retryable=True))

    async def aclose(self) -> None:
        for channel in {id(c): c for c in self.channels.values()}.values():
            try:
                await channel.aclose()
            except Exception as exc:  # closing must not hide what happened before
                log.warning("closing channel %s: %s", channel.name, exc)


def _crash_text(exc: BaseException) -> str:
    # No message text: a bug's exception could carry a secret the channel did not scrub.
    return f"通道内部错误 {type(exc).__name__}"
