"""The reminder service: the APScheduler daemon (``ccal serve``) and one pass of it (``ccal tick``).

The database is the only source of truth. The daemon keeps a handful of in-memory jobs that
scan it (no job per obligation, no persistent job store):

==============  ==============================  ================================================
job             when                            does
==============  ==============================  ================================================
materialise     daily at ``materialise_at``     create/update the occurrences of this year (and
                                                of next year in December)
score           daily at ``score_at``           lecture violations and overdue supervision orders
                                                to findings, then the automatic ledger entries
                                                of the year (``keep_score``)
holidays        daily at ``holidays_at``        re-read the holiday directory, then materialise
                                                (dates that were provisional may move)
plan            every ``plan_every_minutes``    plan reminders into the outbox (planner.py)
dispatch        every ``dispatch_every_seconds`` settle unsent messages, then send the due ones
                                                when inside a sending window (dispatcher.py)
==============  ==============================  ================================================

At start-up, before the jobs, the daemon (on SQLite: refusing to start when another daemon serves
the file, ``ServiceRunning``) puts rows a dead sender left in ``sending`` back to retryable and
runs one full catch-up pass. Materialise, score and plan run under the planning lease
(``scheduler.leases``): one process at a time, whichever daemon or tick holds it; each dispatch
first takes back rows of senders that died meanwhile (docs/service.md, "Faults"). SIGTERM/SIGINT: no new message is started, the messages in
flight finish (up to ``shutdown_grace_seconds``; whatever is cut off stays ``sending`` and is
retried at the next start), the channels are closed, the process exits 0.

``run_tick(app, now)`` is one pass of everything the daemon does, at ``now``: what cron
deployments, operators and tests run. The score step comes before planning, so a deduction it
records is told in the same pass's digests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from notifiers.base import EMAIL, WECOM_APP, WECOM_ROBOT, Channel
from notifiers.rendering import TemplateRenderError
from notifiers.settings import NotifyConfigError, build_channels, template_environment
from obligations.reminders import ReminderPolicy, ReminderPolicyError
from obligations.sending_windows import (SendingWindow, SendingWindowError, in_window,
                                         next_window_start)
from scheduler import delivery_health, leases, ledger, orders, outbox
from scheduler.channel_words import describe_routes
from scheduler.dispatcher import Dispatcher, DispatchReport, StoreError
from scheduler.heartbeat import record_pass
from scheduler.lectures import sync_findings
from scheduler.materialise import MaterialiseCounts
from scheduler.planner import DEFAULT_SENDER, Planner, PlannerSettings, PlanReport, routes_for
from scheduler.redelivery import healthy_routes
from scheduler.tracking import track

if TYPE_CHECKING:
    from scheduler.app import App

log = logging.getLogger(__name__)

ROUTES = (EMAIL, WECOM_ROBOT, WECOM_APP)
# Errors a clerk or operator can fix; the CLI prints them without a traceback.
class ServiceRunning(RuntimeError):
    """Another daemon already serves this SQLite database."""


SERVICE_USER_ERRORS: tuple[type[Exception], ...] = (
    ReminderPolicyError, SendingWindowError, NotifyConfigError, TemplateRenderError,
    outbox.OutboxError, StoreError, ServiceRunning)
SERVE_LEASE = timedelta(minutes=2)   # SQLite: one daemon per file; renewed every 30 s
_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class ServiceSettings:
    """The ``[service]`` table of the config file (documented in docs/service.md)."""

    routes: tuple[str, ...] | None = None  # channels to use; None: every configured one
    plan_every: timedelta = timedelta(minutes=5)
    dispatch_every: timedelta = timedelta(seconds=60)
    materialise_at: time = time(0, 5)
    score_at: time = time(0, 10)
    holidays_at: time = time(3, 0)
    batch_size: int = 200
    retry: outbox.RetryPolicy = outbox.DEFAULT_RETRY
    sending_lease: timedelta = timedelta(minutes=30)
    shutdown_grace: timedelta = timedelta(seconds=30)
    sender: str = DEFAULT_SENDER
    contact: str | None = None
    operator_email: str | None = None   # who gets the daily 投递异常 notice (default: the
    operator_wecom: str | None = None   # propaganda department's contact)


_INTS = {  # key: (default, low, high)
    "plan_every_minutes": (5, 1, 1440),
    "dispatch_every_seconds": (60, 5, 3600),
    "batch_size": (200, 1, 10_000),
    "max_attempts": (15, 1, 100),
    "retry_base_seconds": (60, 1, 86_400),
    "retry_max_seconds": (3600, 1, 7 * 86_400),
    "sending_lease_minutes": (30, 1, 1440),
    "shutdown_grace_seconds": (30, 0, 3600),
    "track_years": (1, 1, 20),   # read by scheduler/tracking.py
}
_TIMES = {"materialise_at": time(0, 5), "score_at": time(0, 10), "holidays_at": time(3, 0)}
_TEXTS = ("sender", "contact", "operator_email", "operator_wecom")
SERVICE_KEYS = tuple(_INTS) + tuple(_TIMES) + _TEXTS + ("channels",)


def service_settings(config) -> ServiceSettings:
    """Read and check ``config.service``; errors name the file, line and field."""
    raw: Mapping[str, Any] = config.service or {}
    for key in raw:
        if key not in SERVICE_KEYS:
            raise config.error(f"service.{key}", f"未知设置（可用：{'、'.join(SERVICE_KEYS)}）")
    ints = {}
    for key, (default, low, high) in _INTS.items():
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise config.error(f"service.{key}",
                               f"应为 {low} 到 {high} 之间的整数，实际为 {value!r}")
        ints[key] = value
    if ints["retry_max_seconds"] < ints["retry_base_seconds"]:
        raise config.error("service.retry_max_seconds",
                           "不能小于 retry_base_seconds")
    times = {}
    for key, default in _TIMES.items():
        value = raw.get(key, default)
        if isinstance(value, str) and (m := _HH_MM.match(value.strip())) \
                and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            value = time(int(m.group(1)), int(m.group(2)))
        if not isinstance(value, time):
            raise config.error(f"service.{key}", f'应为 "HH:MM" 格式的时间，实际为 {value!r}')
        times[key] = value
    texts = {}
    for key in _TEXTS:
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise config.error(f"service.{key}", f"应为非空字符串，实际为 {value!r}")
        texts[key] = value.strip() if value else None
    routes = raw.get("channels")
    if routes is not None:
        if not isinstance(routes, list) or not all(r in ROUTES for r in routes) or not routes:
            raise config.error("service.channels",
                               f"应为非空列表，取值为 {'、'.join(ROUTES)}，实际为 {routes!r}")
        routes = tuple(dict.fromkeys(routes))
    return ServiceSettings(
        routes=routes,
        plan_every=timedelta(minutes=ints["plan_every_minutes"]),
        dispatch_every=timedelta(seconds=ints["dispatch_every_seconds"]),
        materialise_at=times["materialise_at"],
        score_at=times["score_at"],
        holidays_at=times["holidays_at"],
        batch_size=ints["batch_size"],
        retry=outbox.RetryPolicy(max_attempts=ints["max_attempts"],
                                 base_delay=timedelta(seconds=ints["retry_base_seconds"]),
                                 max_delay=timedelta(seconds=ints["retry_max_seconds"])),
        sending_lease=timedelta(minutes=ints["sending_lease_minutes"]),
        shutdown_grace=timedelta(seconds=ints["shutdown_grace_seconds"]),
        sender=texts["sender"] or DEFAULT_SENDER,
        contact=texts["contact"],
        operator_email=texts["operator_email"],
        operator_wecom=texts["operator_wecom"],
    )


def sending_window(config) -> SendingWindow:
    """The sending window of the config's ``[reminders]``, whose reminder-policy keys are
    checked here too, so that a bad one is reported with its line in the file."""
    where = f"{config.path or 'config'} [reminders]"
    try:
        ReminderPolicy.from_mapping(config.reminders, where=where, allow_window_keys=True)
        return SendingWindow.from_mapping(config.reminders, where=where)
    except (ReminderPolicyError, SendingWindowError) as e:
        dotted = "reminders" if e.field == "reminders" else f"reminders.{e.field}"
        raise config.error(dotted, e.message) from None


def years_to_post(now: datetime) -> list[int]:
    # January: the past year's December work reported late still moves its assessment.
    return [now.year - 1, now.year] if now.month == 1 else [now.year]


@dataclass
class ScoreKeeping:
    """What the score step of a pass recorded (scheduler/ledger.py)."""
    findings: int = 0        # findings posted (lecture violations, overdue orders) or restored
    withdrawn: int = 0       # findings withdrawn: the record no longer shows the violation
    posted: int = 0          # automatic ledger entries posted (values that changed)
    skipped: list[str] = field(default_factory=list)   # findings the ledger refused, and why


# --------------------------------------------------------------------------- one pass

@dataclass
class TickReport:
    now: datetime
    recovered: int = 0          # rows put back after a crash (ambiguous + released)
    ambiguous: int = 0          # of those, rows whose send had begun
    planning_skipped: str | None = None   # another process holds the planning lease: who
    notices: int = 0            # 投递异常 notices planned
    materialised: MaterialiseCounts = field(default_factory=MaterialiseCounts)
    score: ScoreKeeping = field(default_factory=ScoreKeeping)
    plan: PlanReport = field(default_factory=PlanReport)
    dispatch: DispatchReport | None = None  # None: outside the sending window
    next_window: datetime | None = None
    outbox: dict[str, int] = field(default_factory=dict)


class Service:
    """Channels, planner and dispatcher for one app. ``clock`` gives naive local wall-clock time
    (default: the app's clock); a tick passes a fixed clock."""

    def __init__(self, app: "App", *, clock: Callable[[], datetime] | None = None,
                 channels: Mapping[str, Channel] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        config = app.config
        self.app = app
        self.settings = service_settings(config)
        self.window = sending_window(config)
        self.clock = clock or app.now
        self.channels = dict(channels) if channels is not None else build_channels(
            config.notify, config_path=config.path, data_dir=config.general.data_dir,
            environ=os.environ if environ is None else environ, line_of=config.line_of,
            clock=lambda: self.clock().replace(tzinfo=config.general.tz))  # one clock
        env = template_environment(config.templates, config_path=config.path,
                                   line_of=config.line_of)
        self.planner = Planner(app, self.channels, env, PlannerSettings(
            window=self.window, routes=self.settings.routes, sender=self.settings.sender,
            contact=self.settings.contact))
        for ob in app.obligations.values():  # a bad [reminders] setting stops us here, not later
            self.planner.policy(ob)
        routes = self.settings.routes or tuple(self.channels)
        self.last_notices = 0
        self.dispatcher = Dispatcher(
            app.engine, {r: c for r, c in self.channels.items() if r in routes},
            clock=self.clock, retry=self.settings.retry, batch_size=self.settings.batch_size,
            lease=self.settings.sending_lease)

    # -- the pieces of a pass
    def recover(self, now: datetime, *, lease: bool) -> outbox.Recovery:
        """Rows a dead process left in ``sending``: those whose owner is gone from this host
        or whose lease ran out (rows of a live sender are never taken)."""
        with self.app.session() as session:
            before = now - self.settings.sending_lease if lease else None
            n = outbox.recover_interrupted(session, now, claimed_before=before)
        if n.ambiguous:
            log.warning("%d message(s) were being sent when the service stopped; they will be "
                        "sent again (same key and Message-ID)", n.ambiguous)
        if n.released:
            log.info("%d claimed message(s) had not been started; released", n.released)
        return n

    def plan_lease(self) -> leases.Holder | None:
        """Take (or renew) the planning lease; None when this process holds it, else who does."""
        return leases.acquire(self.app.engine, leases.PLAN, self.settings.sending_lease)

    def _under_plan_lease(self, name: str, body: Callable[[], Any]) -> Any:
        holder = self.plan_lease()
        if holder is not None:
            log.debug("%s skipped: %s holds the planning lease", name, holder.describe())
            return None
        return body()

    def plan_notice(self, now: datetime) -> int:
        """Today's 投递异常 notice to the operator, when there is trouble (once a day)."""
        with self.app.session() as session:
            from scheduler.planner import Directory
            directory = Directory(session, self.app.propaganda_unit)
            people = delivery_health.operator(
                session, email=self.settings.operator_email,
                wecom_userid=self.settings.operator_wecom, fallback=directory.propaganda, now=now)
            paused = delivery_health.paused_channels(session, now)
            routes = self.settings.routes or tuple(self.dispatcher.channels)
            return delivery_health.plan_notice(
                session, now, people=people, send_at=now, sender=self.settings.sender,
                channels=list(self.dispatcher.channels),
                routes=lambda p: healthy_routes(routes_for(p, self.dispatcher.channels, routes),
                                                paused))

    def refresh_holidays(self) -> None:
        self.app.reload_calendar()

    def materialise(self, now: datetime, *, force: bool = True) -> MaterialiseCounts:
        """The tracked years' occurrences (scheduler/tracking.py). The daily job forces it;
        a pass materialises only when a tracked year is not yet recorded under the enabled
        packs (a new year, a pack change), so a pass that changes nothing writes nothing."""
        return track(self.app, now.date(), force=force)

    def keep_score(self, now: datetime, *, full: bool = False) -> ScoreKeeping:
        """The ledger's daily bookkeeping: findings the record implies (lecture violations,
        overdue supervision orders; each in its own transactions), then the automatic entries of
        the year as of today for every enabled scorecard (idempotent: only changed values post)."""
        report = ScoreKeeping()
        for sync in (sync_findings(self.app), orders.record_overdue(self.app, now.date())):
            report.findings += len(sync.added)
            report.withdrawn += len(sync.withdrawn)
            report.skipped += sync.skipped
        for card in ledger.scorecards(self.app).values():
            for year in years_to_post(now):
                # A pass derives only the units whose record changed; the daily job all of them.
                report.posted += ledger.post_automatic(self.app, year, now.date(), card=card, full=full).posted
        return report

    def plan(self, now: datetime) -> PlanReport:
        started = _time.monotonic()
        report = self.planner.plan(now)
        record_pass(self.app, now, _time.monotonic() - started)   # /healthz reads it
        return report

    async def dispatch(self, now: datetime) -> DispatchReport | None:
        """Settle, then send what is due if ``now`` is inside a sending window."""
        with self.app.session() as session:
            self.planner.settle(session, now)
        if not in_window(now, self.app.calendar, self.window):
            return None
        # Another daemon on the same database may have died while sending: its rows come back
        # now (owner dead on this host, or lease run out), not only at the next start or tick.
        self.recover(now, lease=True)
        self.last_notices = self.plan_notice(now)
        return await self.dispatcher.dispatch()

    async def tick(self, now: datetime, *, lease: bool = True) -> TickReport:
        """One pass of everything the daemon does, at ``now``."""
        report = TickReport(now)
        recovery = self.recover(now, lease=lease)
        report.recovered, report.ambiguous = int(recovery), recovery.ambiguous
        self.refresh_holidays()
        holder = self.plan_lease()
        if holder is None:
            try:
                report.materialised = self.materialise(now, force=False)
                report.score = self.keep_score(now)
                report.plan = self.plan(now)
            finally:
                if lease:  # a tick lets the daemon plan again at once
                    leases.release(self.app.engine, leases.PLAN)
        else:   # another process is planning right now: this pass only sends
            report.planning_skipped = holder.describe()
        self.last_notices = 0
        report.dispatch = await self.dispatch(now)
        report.notices = self.last_notices
        report.next_window = next_window_start(now, self.app.calendar, self.window)
        with self.app.session() as session:
            report.outbox = outbox.counts(session)
        return report

    async def aclose(self) -> None:
        await self.dispatcher.aclose()

    # -- the daemon
    def build_scheduler(self, job: Callable[[str, Callable[[], Any]], Callable]) -> AsyncIOScheduler:
        """The daemon's scheduler and its five jobs (not started). ``job(name, body)`` wraps a
        job body (a callable returning a result or a coroutine) into the function scheduled."""
        tz = self.app.config.general.tz
        scheduler = AsyncIOScheduler(timezone=tz, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        m_at, h_at = self.settings.materialise_at, self.settings.holidays_at
        scheduler.add_job(job("materialise", lambda: self._under_plan_lease(
                              "materialise", lambda: self.materialise(self.clock()))),
                          CronTrigger(hour=m_at.hour, minute=m_at.minute, timezone=tz),
                          id="materialise")
        s_at = self.settings.score_at
        scheduler.add_job(job("score", lambda: self._under_plan_lease(
                              "score", lambda: self.keep_score(self.clock(), full=True))),
                          CronTrigger(hour=s_at.hour, minute=s_at.minute, timezone=tz), id="score")
        scheduler.add_job(job("holidays", lambda: (self.refresh_holidays(), self._under_plan_lease(
                              "materialise", lambda: self.materialise(self.clock())))[1]),
                          CronTrigger(hour=h_at.hour, minute=h_at.minute, timezone=tz),
                          id="holidays")
        scheduler.add_job(job("plan", lambda: self._under_plan_lease(
                              "plan", lambda: self.plan(self.clock()))),
                          IntervalTrigger(seconds=self.settings.plan_every.total_seconds(),
                                          timezone=tz), id="plan")
        # Each dispatch first takes back rows of a sender that died meanwhile (a killed tick).
        scheduler.add_job(job("dispatch", lambda: (self.recover(self.clock(), lease=True),
                                                   self.dispatch(self.clock()))[1]),
                          IntervalTrigger(seconds=self.settings.dispatch_every.total_seconds(),
                                          timezone=tz), id="dispatch")
        if self._serve_lease_needed():
            scheduler.add_job(job("lease", self.claim_serve_lease),
                              IntervalTrigger(seconds=30, timezone=tz), id="lease")
        return scheduler

    def _serve_lease_needed(self) -> bool:
        return self.app.engine.dialect.name == "sqlite"

    def claim_serve_lease(self) -> None:
        """SQLite: one daemon per database file. Raises ServiceRunning naming the other one."""
        holder = leases.acquire(self.app.engine, leases.SERVE, SERVE_LEASE)
        if holder is not None:
            raise ServiceRunning(
                f"已有一个 ccal serve 在使用此数据库（{holder.describe()}，"
                f"租约至 {holder.expires_at:%Y-%m-%d %H:%M:%S} UTC）：{self.app.engine.url.database}。"
                "SQLite 上同一数据库只能运行一个守护进程；请先停止它（SIGTERM），"
                "或改用 ccal tick 做一次性运行。")

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Run until SIGTERM/SIGINT (or ``stop`` is set)."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        if self._serve_lease_needed():
            self.claim_serve_lease()   # before anything else: a second daemon starts nothing

        def on_signal() -> None:
            self.dispatcher.stop()  # at once: even the start-up catch-up starts nothing new
            stop.set()

        handled = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, on_signal)
                handled.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        tz = self.app.config.general.tz
        running: set[asyncio.Task] = set()

        def job(name: str, body: Callable[[], Any]):
            async def run() -> None:
                task = asyncio.current_task()
                running.add(task)
                try:
                    result = body()
                    if asyncio.iscoroutine(result):
                        result = await result
                    if result is not None:
                        # An idle pass (nothing due, nothing sent) every minute is not news.
                        log.log(logging.DEBUG if _idle(result) else logging.INFO, "%s: %s", name, _summary(result))
                except SERVICE_USER_ERRORS as exc:  # e.g. the disk is full: said plainly
                    log.error("%s failed: %s", name, exc)
                except Exception:  # a failed pass is logged; the next one tries again
                    log.exception("%s failed", name)
                finally:
                    running.discard(task)
            run.__name__ = name
            return run

        log.info("ccal service starting (time zone %s, sending window %s-%s, channels: %s)",
                 tz, self.window.start, self.window.end,
                 describe_routes(self.dispatcher.channels))
        # Catch-up: crashed sends back to retryable, then one full pass.
        startup = job("catch-up", lambda: self.tick(self.clock(), lease=False))
        await startup()

        scheduler = self.build_scheduler(job)
        scheduler.start()
        try:
            await stop.wait()
        finally:
            log.info("ccal service stopping")
            scheduler.pause()
            self.dispatcher.stop()
            if running:
                grace = self.settings.shutdown_grace.total_seconds()
                done, cut = await asyncio.wait(running, timeout=grace)
                for task in cut:  # left in `sending`: retried at the next start
                    task.cancel()
            scheduler.shutdown(wait=False)
            await self.aclose()
            leases.release(self.app.engine, leases.PLAN)   # another daemon may plan at once
            if self._serve_lease_needed():
                leases.release(self.app.engine, leases.SERVE)
            for sig in handled:
                loop.remove_signal_handler(sig)
            log.info("ccal service stopped")


def _idle(result: Any) -> bool:
    """A pass that did nothing: a dispatch with nothing sent, failed or given up."""
    return isinstance(result, DispatchReport) and not (result.sent or result.failed or result.dead)


def _summary(result: Any) -> str:
    if isinstance(result, TickReport):
        return tick_summary(result)
    if isinstance(result, PlanReport):
        return (f"planned {result.entries} item(s): {result.created} new message(s), "
                f"{result.updated} updated, {result.cancelled} cancelled")
    if isinstance(result, DispatchReport):
        return f"sent {result.sent}, failed {result.failed}, dead {result.dead}"
    if isinstance(result, MaterialiseCounts):
        return f"occurrences: {result.created} created, {result.updated} updated"
    if isinstance(result, ScoreKeeping):
        return (f"findings {result.findings} posted / {result.withdrawn} withdrawn, "
                f"{result.posted} ledger entr{'y' if result.posted == 1 else 'ies'} posted"
                + (f", {len(result.skipped)} skipped" if result.skipped else ""))
    return str(result)


def tick_summary(r: TickReport) -> str:
    sent = ("outside the sending window" if r.dispatch is None else
            f"sent {r.dispatch.sent}, failed {r.dispatch.failed}, dead {r.dispatch.dead}")
    return (f"occurrences {r.materialised.created} created / {r.materialised.updated} updated; "
            f"{_summary(r.score)}; "
            f"planned {r.plan.entries} item(s) into {r.plan.created} new message(s); {sent}")


# --------------------------------------------------------------------------- entry points

def run_tick(app: "App", now: datetime, *, channels: Mapping[str, Channel] | None = None,
             environ: Mapping[str, str] | None = None) -> TickReport:
    """One pass of everything the daemon does, at ``now`` (naive local time), then exit."""
    service = Service(app, clock=lambda: now, channels=channels, environ=environ)

    async def main() -> TickReport:
        try:
            return await service.tick(now)
        finally:
            await service.aclose()

    return asyncio.run(main())


def offset_clock(app: "App", start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and then advances in real time (``serve --now``)."""
    t0 = _time.monotonic()
    return lambda: (start + timedelta(seconds=_time.monotonic() - t0)).replace(microsecond=0)


def run_service(app: "App", *, start: datetime | None = None,
                clock: Callable[[], datetime] | None = None) -> None:
    """``ccal serve``: run the daemon until SIGTERM/SIGINT. ``clock``: the service clock (the
    caller's, e.g. for log times under ``--now``); default the offset clock from ``start``."""
    if clock is None and start is not None:
        clock = offset_clock(app, start)
    service = Service(app, clock=clock)
    asyncio.run(service.serve())
