"""The fault suite (issue 10): what operators ran into, replayed against the real loopback
servers (aiosmtpd, the WeCom imitation) and real SQLite files.

Each scenario asserts: no crash (exit 0 or a clear Chinese message), nothing lost, no row
stuck in `sending`, and that the operator hears about channel trouble (the 投递异常 notice).
The kill -9 scenarios are here and in test_crash.py.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import event, select as sa_select
from sqlmodel import Session, select

from cli import main
from notifiers.base import Recipient
from notifiers.secrets import Secret
from notifiers.wecom_app import WeComAppChannel
from notifiers.wecom_robot import WeComRobotChannel
from scheduler import delivery_health, leases, outbox
from scheduler.app import open_app
from scheduler.dispatcher import Dispatcher, StoreError
from scheduler.models import ChannelState, Outbox, OutboxItem, Person, ServiceLease
from tests.fakes.smtp import FakeSMTP, HeaderRecorder
from tests.fakes.wecom import FakeWeCom

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 16, 9, 0)
XU, LV, SUN = "xu@example.edu.cn", "lv@example.edu.cn", "sun@example.edu.cn"


def email_table(port, *, username=None, timeout=None, concurrency=None):
    out = (f'[notify.email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
           f'from_addr = "ccal@example.edu.cn"\n')
    if username:
        out += f'username = "{username}"\n'
    if timeout:
        out += f"timeout = {timeout}\n"
    if concurrency:
        out += f"concurrency = {concurrency}\n"
    return out


def tick(cfg, when, env=None):
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", when], env=env)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def rows(cfg):
    app = open_app(cfg)
    try:
        with Session(app.engine) as s:
            return list(s.exec(select(Outbox).order_by(Outbox.id)).all())
    finally:
        app.engine.dispose()


def keys(smtp):
    return Counter(m.message["X-Ccal-Key"] for m in smtp.messages)


# --------------------------------------------------------------------------- item 1

def ccal(cfg, *args):
    return subprocess.Popen([sys.executable, "-m", "cli", "--config", str(cfg), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_two_ticks_at_once_on_a_fresh_database_both_succeed_and_nothing_is_sent_twice(
        reminder_config):
    with FakeSMTP() as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp.port))
        procs = [ccal(cfg, "tick", "--now", "2026-03-11 10:00") for _ in range(2)]
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert not any("Traceback" in o or "UNIQUE" in o for o in outputs), outputs
        # 许芳 (B1+B3) and 吕刚 (B2): one message each, once.
        assert sorted(keys(smtp).values()) == [1, 1]
    assert {r.status for r in rows(cfg)} == {"sent"}


def test_a_tick_two_seconds_after_the_daemon_started_succeeds(reminder_config):
    with FakeSMTP() as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp.port))
        daemon = ccal(cfg, "serve", "--no-web", "--now", "2026-03-11 10:00")
        try:
            time.sleep(2)
            out = tick(cfg, "2026-03-11 10:00")
            deadline = time.monotonic() + 30
            while len(smtp.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            daemon.send_signal(signal.SIGTERM)
            log = daemon.communicate(timeout=30)[0].decode()
        assert daemon.returncode == 0, log
        assert "Traceback" not in log and "UNIQUE" not in log
        assert sorted(keys(smtp).values()) == [1, 1]
    assert "sending" not in {r.status for r in rows(cfg)}


def test_a_materialise_that_lost_the_race_inserts_nothing_and_does_not_fail(tracking_app):
    from scheduler.materialise import _apply, materialise
    first = materialise(tracking_app, [2026])
    assert first.created > 0
    with tracking_app.session() as s:
        from scheduler.models import Occurrence
        occ = s.exec(select(Occurrence)).first()
        wanted = {(occ.unit_code, occ.obligation_key, occ.period): {
            "unit_code": occ.unit_code, "obligation_key": occ.obligation_key, "period": occ.period,
            "opens": occ.opens, "due": occ.due, "required": occ.required,
            "provisional": occ.provisional, "event_id": None}}
        # The pass read "nothing there" before the other one committed: existing = [].
        assert _apply(s, wanted, [], NOW).created == 0


# --------------------------------------------------------------------------- item 2 (kill -9)

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def many_branches(n):
    return ("code,name,kind,parent,secretary,email\nDW,测试学院党委,党委,,王建国,wang@example.edu.cn\n"
            + "".join(f"B{i:03d},第{i}党支部,党支部,DW,书记{i},s{i:03d}@example.edu.cn\n"
                      for i in range(1, n + 1)))


@pytest.mark.parametrize("concurrency", [1, 3])
def test_kill_9_then_a_tick_at_once_leaves_nothing_stuck(reminder_config, tmp_path, concurrency):
    units = 120
    recorder = HeaderRecorder("X-Ccal-Key", "Message-ID")
    port = free_port()
    server = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=5)
    server.start()
    try:
        cfg = reminder_config("spring", org=many_branches(units),
                              extra=email_table(port, concurrency=concurrency))
        tick(cfg, "2026-03-11 08:00")                     # planned, not sent
        log = open(tmp_path / "serve.log", "wb")
        daemon = ccal(cfg, "serve", "--no-web", "--now", "2026-03-11 09:05")
        deadline = time.monotonic() + 60
        while recorder.count() < units // 4:
            assert daemon.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        log.close()
        assert recorder.count() < units, "finished before the kill: nothing tested"
        left = [r for r in rows(cfg) if r.status == "sending"]
        assert left, "the kill left no claimed rows: nothing tested"
        listing = CliRunner().invoke(main, ["--config", str(cfg), "outbox", "--limit", "1"])
        assert f"发送中断 {len(left)} 条：发送它们的进程已退出" in listing.output   # with a reason
        out = tick(cfg, "2026-03-11 09:10")                # at once, not 30 minutes later
        assert "中断后恢复" in out
        # Only rows whose send had begun count as ambiguous: at most one per connection.
        ambiguous = int(out.split("其中 ")[1].split(" 条")[0]) if "其中 " in out else 0
        assert ambiguous <= concurrency
        time.sleep(0.2)
    finally:
        server.stop()
    got = Counter(k for k, _ in recorder.keys)
    assert len(got) == units                                          # nothing lost
    assert sum(n - 1 for n in got.values()) <= concurrency            # at most concurrency twice
    ids = {}
    for key, mid in recorder.keys:                                    # a duplicate keeps its id
        assert ids.setdefault(key, mid) == mid
    assert {r.status for r in rows(cfg)} == {"sent"}


# --------------------------------------------------------------------------- item 3 (store)

@pytest.fixture
def people(session):
    ps = [Person(key=f"p{i}@example.edu.cn", name=f"书记{i}", email=f"p{i}@example.edu.cn")
          for i in range(8)]
    session.add_all(ps)
    session.commit()
    return ps


def plan_rows(session, people, channel="email", body="请于3月20日前报送研判报告。", markdown=None):
    for p in people:
        session.add(Outbox(
            topic="digest:2026-03-16", stage="digest", channel=channel, person_id=p.id,
            address=outbox.address_json(Recipient(p.name, email=p.email, wecom_userid=f"u{p.id}")),
            title=f"【意识形态工作提醒】{p.name}", body_text=body, body_markdown=markdown,
            send_at=NOW, next_attempt_at=NOW))
    session.commit()


def run(engine, channels, now=NOW, **kw):
    async def go():
        d = Dispatcher(engine, channels, clock=lambda: now, **kw)
        try:
            return await d.dispatch()
        finally:
            await d.aclose()
    return asyncio.run(go())


def email(port, **kw):
    from notifiers.email import EmailChannel
    return EmailChannel(host="127.0.0.1", port=port, security="none",
                        from_addr="ccal@example.edu.cn", **kw)


def test_disk_full_mid_batch_stops_cleanly_and_loses_nothing(engine, session, people):
    plan_rows(session, people)
    results = {"n": 0}

    def full_after_four(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE OUTBOX SET STATUS"):
            results["n"] += 1
            if results["n"] == 6:      # the claim, 4 results, then the 5th result: disk full
                raise disk_full        # the driver's own error, as the full disk gives it

    if engine.dialect.name == "sqlite":
        import sqlite3
        disk_full = sqlite3.OperationalError("database or disk is full")
    else:
        import psycopg
        disk_full = psycopg.errors.DiskFull("could not extend file: No space left on device")

    event.listen(engine, "before_cursor_execute", full_after_four)
    with FakeSMTP() as smtp:
        with pytest.raises(StoreError) as info:
            run(engine, {"email": email(smtp.port, concurrency=1)})
    event.remove(engine, "before_cursor_execute", full_after_four)
    message = str(info.value)
    assert "数据库写入失败" in message and str(disk_full) in message
    assert "Traceback" not in message
    statuses = Counter(r.status for r in session.exec(
        select(Outbox).execution_options(populate_existing=True)).all())
    # 5 went out: 4 recorded at once, the 5th recorded once the store took writes again; the
    # rest were never started and are due again, not stuck in `sending`.
    assert len(smtp.messages) == 5
    assert statuses == {"sent": 5, "failed": 3}
    for r in session.exec(select(Outbox).where(Outbox.status == "failed")).all():
        assert r.attempts == 0 and r.next_attempt_at == NOW


# --------------------------------------------------------------------------- item 4 (logins)

def test_a_bad_smtp_login_pauses_the_channel_and_everything_goes_out_after_the_fix(reminder_config):
    with FakeSMTP(users={"ccal": "right-pass"}) as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp.port, username="ccal")
                              + f'[service]\noperator_email = "ops@example.edu.cn"\nmax_attempts = 2\n')
        out = tick(cfg, "2026-03-11 10:00", env={"CCAL_SMTP_PASSWORD": "wrong"})
        assert "本轮停止发送" in out and "535" in out
        for minute in (2, 5, 9):                  # the channel stays paused; nothing dies
            tick(cfg, f"2026-03-11 10:{minute:02d}", env={"CCAL_SMTP_PASSWORD": "wrong"})
        assert smtp.connections <= 4              # one login per pass at most, not one per row
        assert {r.status for r in rows(cfg) if r.stage == "digest"} == {"failed"}
        app = open_app(cfg)
        with Session(app.engine) as s:
            state = s.get(ChannelState, "email")
            assert state.failures >= 2 and "535" in state.reason
            listing = CliRunner().invoke(main, ["--config", str(cfg), "outbox"])
            assert "通道故障：邮件（email）" in listing.output
        app.engine.dispose()
        # The password is fixed: the next pass after the pause sends everything, no retry --dead.
        out = tick(cfg, "2026-03-11 11:30", env={"CCAL_SMTP_PASSWORD": "right-pass"})
        got = keys(smtp)
    digests = {k: n for k, n in got.items() if k.startswith("digest:")}
    assert sorted(digests.values()) == [1, 1]
    notices = [m for m in smtp.messages if m.message["X-Ccal-Key"].startswith("notice:")]
    assert len(notices) == 1 and notices[0].rcpt_tos == ("ops@example.edu.cn",)
    assert "投递异常" in notices[0].message["Subject"]
    assert "535" in notices[0].message.get_body(("plain",)).get_content()
    assert {r.status for r in rows(cfg)} == {"sent"}


def test_a_bad_wecom_secret_keeps_rows_retryable_and_they_go_out_after_the_fix(engine, session, people):
    plan_rows(session, people[:3], channel="wecom_app")
    with FakeWeCom(users=[f"u{p.id}" for p in people]) as fake:
        def app_channel(secret):
            return WeComAppChannel(corp_id=fake.corp_id, secret=Secret("S", secret),
                                   agent_id=fake.agent_id, base_url=fake.base_url, trust_env=False)
        report = run(engine, {"wecom_app": app_channel("wrong-secret")})
        assert report.dead == 0 and report.failed == 1 and "40001" in report.stopped["wecom_app"]
        assert len(fake.calls("/cgi-bin/gettoken")) == 1        # stopped after the first
        assert delivery_health.paused_until(session, "wecom_app", NOW) is not None
        later = NOW + timedelta(minutes=5)
        report = run(engine, {"wecom_app": app_channel(fake.corp_secret)}, now=later)
    assert report.sent == 3
    assert not delivery_health.failing(session, "wecom_app")
    session.expire_all()
    assert {r.status for r in session.exec(select(Outbox)).all()} == {"sent"}


# --------------------------------------------------------------------------- item 5

def test_items_of_a_message_that_died_for_a_channel_reason_are_planned_again(reminder_config):
    with FakeSMTP(users={"ccal": "right-pass"}) as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp.port, username="ccal"))
        bad = {"CCAL_SMTP_PASSWORD": "wrong"}
        tick(cfg, "2026-03-11 10:00", env=bad)
        tick(cfg, "2026-03-12 10:05", env=bad)    # a day of channel trouble: the rows die
        died = [r for r in rows(cfg) if r.status == "dead"]
        assert len(died) == 2 and all(outbox.CHANNEL_DEAD_PREFIX in r.last_error for r in died)
        app = open_app(cfg)
        with Session(app.engine) as s:
            assert {i.state for i in s.exec(select(OutboxItem)).all()} == {"undelivered"}
        app.engine.dispose()
        tick(cfg, "2026-03-13 10:00", env={"CCAL_SMTP_PASSWORD": "right-pass"})
    texts = {m.rcpt_tos[0]: m.message.get_body(("plain",)).get_content() for m in smtp.messages
             if m.message["X-Ccal-Key"].startswith("digest:2026-03-13")}
    assert set(texts) == {XU, LV}
    assert all("报送春季意识形态工作研判报告" in t for t in texts.values())


# --------------------------------------------------------------------------- item 6 (silent)

def test_a_server_that_accepts_but_never_answers_costs_one_timeout_per_connection(
        engine, session, people):
    plan_rows(session, people)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(50)                              # accepts (the kernel does), never answers
    try:
        report = run(engine, {"email": email(silent.getsockname()[1], timeout=1, concurrency=2)})
        # Every connection the channel opened waits in the listen queue: count them, not seconds.
        silent.setblocking(False)
        connections = 0
        while True:
            try:
                silent.accept()[0].close()
            except BlockingIOError:
                break
            connections += 1
    finally:
        silent.close()
    assert 1 <= connections <= 2                   # one timeout per connection, not 8 messages x 1 s
    assert report.dead == 0 and "email" in report.stopped
    session.expire_all()
    found = session.exec(select(Outbox)).all()
    assert {r.status for r in found} == {"failed"}
    assert all(r.attempts == 0 for r in found)     # the channel's fault, not the messages'


def test_the_sending_lease_is_renewed_while_a_slow_pass_sends(engine, session, people):
    plan_rows(session, people[:2], channel="slow")

    from notifiers.base import Channel, Delivery

    seen = []

    async def go():
        # The messages stay on the wire until the watcher has seen the lease move (or gave up
        # after 30 s): no race between fixed sleeps and the renewal period on a loaded machine.
        released = asyncio.Event()

        class Slow(Channel):
            name = "slow"

            async def _send(self, message):
                await released.wait()
                return [Delivery.success(message.recipients[0])]

        async def watch():
            give_up = time.monotonic() + 30     # longer than SQLite's 10 s busy timeout
            while len(set(seen)) < 2 and time.monotonic() < give_up:
                await asyncio.sleep(0.05)
                with Session(engine) as s:
                    seen.extend(s.exec(sa_select(Outbox.lease_until).where(Outbox.status == "sending")).scalars())
            released.set()

        d = Dispatcher(engine, {"slow": Slow()}, clock=lambda: NOW, lease=timedelta(seconds=0.3))
        await asyncio.gather(d.dispatch(), watch())

    asyncio.run(go())
    assert len(set(seen)) >= 2                     # renewed, not fixed at the claim


def test_a_pass_deadline_stops_starting_messages(engine, session, people):
    plan_rows(session, people, channel="slow")
    from notifiers.base import Channel, Delivery

    class Slow(Channel):
        name = "slow"

        async def _send(self, message):
            await asyncio.sleep(1.2)        # the first message outlasts the pass's deadline
            return [Delivery.success(message.recipients[0])]

    report = run(engine, {"slow": Slow()}, deadline=1.0)
    assert report.sent == 1 and report.released == len(people) - 1
    session.expire_all()
    assert "sending" not in {r.status for r in session.exec(select(Outbox)).all()}


# --------------------------------------------------------------------------- items 7, 8 (WeCom)

def robot(fake, **kw):
    return WeComRobotChannel(key=Secret("K", "robot-key-0123456789"), base_url=fake.base_url,
                             trust_env=False, max_wait=0, **kw)


def recording_sleep():
    """A sleep for the robot's rate limiter that records what it was asked to wait, at once:
    the tests assert on the waits, not on the wall clock."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return waits, sleep


def test_robot_45009_marks_the_channel_rate_limited_and_returns_at_once(engine, session, people):
    plan_rows(session, people[:5], channel="wecom_robot", markdown="请报送研判报告")
    with FakeWeCom() as fake:
        fake.script("/cgi-bin/webhook/send", {"errcode": 45009, "errmsg": "api freq out of limit"})
        waits, sleep = recording_sleep()
        report = run(engine, {"wecom_robot": robot(fake, sleep=sleep)})
        assert not [w for w in waits if w > 0]                        # returned at once
        assert (report.sent, report.failed, report.dead) == (0, 1, 0)
        assert len(fake.calls("/cgi-bin/webhook/send")) == 1
        until = delivery_health.paused_until(session, "wecom_robot", NOW)
        assert until is not None and until >= NOW + timedelta(seconds=60)
        assert run(engine, {"wecom_robot": robot(fake)}, now=NOW + timedelta(seconds=30)).attempted == 0
        report = run(engine, {"wecom_robot": robot(fake)}, now=NOW + timedelta(minutes=2))
    assert report.sent == 5


LONG = "\n".join(f"{i}. 请于3月20日前报送第{i}项意识形态工作研判报告，并附会议记录和照片。" for i in range(120))


@pytest.mark.parametrize("kind", ["wecom_robot", "wecom_app"])
def test_a_multi_part_message_resumes_at_the_failed_part_in_a_new_process(engine, session, people, kind):
    plan_rows(session, people[:1], channel=kind, markdown=LONG)
    path = "/cgi-bin/webhook/send" if kind == "wecom_robot" else "/cgi-bin/message/send"
    with FakeWeCom(users=[f"u{people[0].id}"], robot_per_minute=None) as fake:
        def channel():   # a fresh instance: nothing remembered in memory
            if kind == "wecom_robot":
                return robot(fake)
            return WeComAppChannel(corp_id=fake.corp_id, secret=Secret("S", fake.corp_secret),
                                   agent_id=fake.agent_id, base_url=fake.base_url, trust_env=False)
        fake.script(path, {"errcode": 0, "errmsg": "ok"}, (500, "busy"))  # part 1 arrives, part 2 fails
        first = run(engine, {kind: channel()})
        assert first.failed == 1
        session.expire_all()
        row = session.exec(select(Outbox)).one()
        assert row.progress and row.progress.startswith("1:")
        fake.requests.clear()
        second = run(engine, {kind: channel()}, now=NOW + timedelta(minutes=5))
        contents = [r.body["markdown"]["content"] for r in fake.calls(path)]
    assert second.sent == 1
    assert contents and all("（第 1/" not in c for c in contents)   # part 1 not posted again
    assert "（第 2/" in contents[0]


# --------------------------------------------------------------------------- item 11 (logs)

def test_a_failing_pass_logs_one_line_per_channel_and_reason(engine, session, people, caplog):
    plan_rows(session, people)
    with FakeSMTP(reject_rcpts={p.email for p in people}) as smtp:
        with caplog.at_level("WARNING"):
            report = run(engine, {"email": email(smtp.port)})
    assert report.dead == len(people)
    lines = [r for r in caplog.records if r.name == "scheduler.dispatcher"]
    assert len(lines) == 1 and f"{len(people)} 条已放弃" in lines[0].getMessage()


# --------------------------------------------------------------------------- several daemons

@pytest.mark.sqlite_only     # one daemon per SQLite file; PostgreSQL takes several
def test_a_second_daemon_on_one_sqlite_file_refuses_and_names_the_first(reminder_config, tmp_path):
    cfg = reminder_config("spring")
    first = ccal(cfg, "serve", "--no-web", "--now", "2026-03-11 07:00")
    try:
        app = open_app(cfg)
        deadline = time.monotonic() + 30
        while True:
            with Session(app.engine) as s:
                if s.get(ServiceLease, "serve") is not None:
                    break
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        app.engine.dispose()
        second = CliRunner().invoke(main, ["--config", str(cfg), "serve", "--no-web", "--now", "2026-03-11 07:00"])
        assert second.exit_code == 1
        assert "已有一个 ccal serve" in second.output and f"进程号 {first.pid}" in second.output
        assert "Traceback" not in second.output
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    # The first one was killed: its lease is taken over at once on this host.
    app = open_app(cfg)
    assert leases.acquire(app.engine, leases.SERVE, timedelta(minutes=2)) is None
    app.engine.dispose()


def test_the_planning_lease_is_one_process_at_a_time_and_a_dead_holder_is_taken_over(engine):
    import socket as _s
    assert leases.acquire(engine, leases.PLAN, timedelta(minutes=30)) is None
    other = f"{_s.gethostname()}/1/{leases.process_start(1)}"   # pid 1 (init): alive
    holder = leases.acquire(engine, leases.PLAN, timedelta(minutes=30), owner="elsewhere/5/1",
                            now=leases.utc_now())
    assert holder is not None and holder.owner == leases.this_process()
    leases.release(engine, leases.PLAN)
    assert leases.acquire(engine, leases.PLAN, timedelta(minutes=30), owner=other) is None
    assert leases.acquire(engine, leases.PLAN, timedelta(minutes=30)) is not None
    dead = f"{_s.gethostname()}/{2 ** 22 + 7}/1"
    with engine.connect() as conn:
        conn.execute(ServiceLease.__table__.update().values(owner=dead))
        conn.commit()
    assert leases.acquire(engine, leases.PLAN, timedelta(minutes=30)) is None   # taken over
    with engine.connect() as conn:                 # another host: only after its lease
        conn.execute(ServiceLease.__table__.update().values(
            owner="elsewhere/5/1", expires_at=leases.utc_now() - timedelta(seconds=1)))
        conn.commit()
    assert leases.acquire(engine, leases.PLAN, timedelta(minutes=30)) is None


# --------------------------------------------------------------------------- item 12 (notice)

def test_the_operator_notice_goes_once_a_day_to_the_propaganda_contact(reminder_config):
    with FakeSMTP(reject_rcpts={XU}) as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp.port))
        tick(cfg, "2026-03-11 08:00")             # outside the window: no notice, nothing sent
        tick(cfg, "2026-03-11 10:00")             # 许芳's mailbox refused: dead
        out = tick(cfg, "2026-03-11 10:05")
        assert "投递异常通知：1 条" in out
        tick(cfg, "2026-03-11 15:00")             # the same day: not again
        tick(cfg, "2026-03-12 10:00")             # the next day: again, the trouble is still there
    notices = [m for m in smtp.messages if m.message["X-Ccal-Key"].startswith("notice:")]
    assert [(m.rcpt_tos, m.message["X-Ccal-Key"].split("/")[0]) for m in notices] == [
        ((SUN,), "notice:2026-03-11"), ((SUN,), "notice:2026-03-12")]
    text = notices[0].message.get_body(("plain",)).get_content()
    assert "已放弃 1 条（邮件）：收件人被拒绝：SMTP 550" in text and XU not in text
    assert "ccal outbox retry --dead" in text


def test_a_dead_letter_is_announced_for_a_week_and_stays_in_the_outbox_summary(session, people):
    plan_rows(session, people[:1])
    row = session.exec(select(Outbox)).one()
    row.status, row.last_error, row.updated_at = "dead", "收件人被拒绝：SMTP 550 <p0@example.edu.cn>", NOW
    session.add(row)
    session.commit()
    week = timedelta(days=delivery_health.NOTICE_DEAD_DAYS)
    assert delivery_health.health(session, NOW + week, dead_since=NOW).dead == [
        ("email", "收件人被拒绝：SMTP 550 <<地址>>", 1)]
    later = NOW + week + timedelta(days=1)
    assert delivery_health.health(session, later, dead_since=later - week).ok
    assert delivery_health.health(session, later).dead                # ccal outbox: still there


def test_an_item_lost_to_a_dead_channel_reaches_the_person_through_their_other_channel(reminder_config):
    with FakeSMTP(users={"ccal": "right-pass"}) as smtp, \
            FakeWeCom(users=["XuFang", "WangJianGuo", "LiWenJing"]) as fake:
        cfg = reminder_config("spring", extra=email_table(smtp.port, username="ccal") + (
            f'[notify.wecom_app]\nbase_url = "{fake.base_url}"\ncorp_id = "{fake.corp_id}"\n'
            f'agent_id = {fake.agent_id}\ntrust_env = false\n'))
        broken = {"CCAL_SMTP_PASSWORD": "wrong", "CCAL_WECOM_APP_SECRET": "wrong"}
        tick(cfg, "2026-03-11 10:00", env=broken)
        tick(cfg, "2026-03-12 10:05", env=broken)       # a day: every row dies, items undelivered
        assert {r.status for r in rows(cfg) if r.stage == "digest"} == {"dead"}
        # WeCom is fixed, the mail server's password is not: 许芳 has WeCom, so her items go
        # there; 吕刚 has only email and waits for it.
        fake.requests.clear()
        tick(cfg, "2026-03-13 10:00", env={**broken, "CCAL_WECOM_APP_SECRET": fake.corp_secret})
        sent = [r.body for r in fake.calls("/cgi-bin/message/send")]
    assert [b["touser"] for b in sent] == ["XuFang"]
    assert "报送春季意识形态工作研判报告" in sent[0]["markdown"]["content"]
    assert not smtp.messages


def test_a_tick_that_hits_a_full_disk_says_so_and_exits_1(reminder_config, monkeypatch):
    import sqlite3
    from sqlalchemy.exc import OperationalError

    real = outbox.mark_result
    calls = {"n": 0}

    def full_once(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("UPDATE outbox ...", {}, sqlite3.OperationalError("database or disk is full"))
        return real(*args, **kw)

    monkeypatch.setattr(outbox, "mark_result", full_once)
    with FakeSMTP() as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp.port, concurrency=1))
        result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", "2026-03-11 10:00"])
        assert result.exit_code == 1
        assert "错误：数据库写入失败，发送已停止（database or disk is full）" in result.output
        assert "Traceback" not in result.output
        assert {r.status for r in rows(cfg)} <= {"sent", "failed"}      # nothing stuck
        assert len(smtp.messages) == 1
        monkeypatch.setattr(outbox, "mark_result", real)
        tick(cfg, "2026-03-11 10:05")
    assert {r.status for r in rows(cfg)} == {"sent"} and sorted(keys(smtp).values()) == [1, 1]


def test_the_robots_own_rate_limit_pauses_the_channel_instead_of_waiting_in_the_pass(
        engine, session, people):
    plan_rows(session, people[:5], channel="wecom_robot", markdown="请报送研判报告")
    with FakeWeCom() as fake:
        waits, sleep = recording_sleep()
        channel = WeComRobotChannel(key=Secret("K", "robot-key-0123456789"), base_url=fake.base_url,
                                    trust_env=False, per_minute=2, max_wait=5,    # [notify] default
                                    sleep=sleep)
        report = run(engine, {"wecom_robot": channel})
        assert not [w for w in waits if w > 5]                        # not a minute per message
    assert (report.sent, report.failed, report.dead) == (2, 1, 0)
    until = delivery_health.paused_until(session, "wecom_robot", NOW)
    assert until is not None and until > NOW + timedelta(seconds=50)
    session.expire_all()
    assert Counter(r.status for r in session.exec(select(Outbox)).all()) == {"sent": 2, "failed": 3}


def test_a_configured_robot_waits_at_most_five_seconds_for_its_own_limit(tmp_path):
    from notifiers.settings import build_channels
    channels = build_channels({"wecom_robot": {}}, config_path=tmp_path / "ccal.toml",
                              data_dir=tmp_path, environ={"CCAL_WECOM_ROBOT_KEY": "k" * 20})
    assert channels["wecom_robot"].max_wait == 5


@pytest.mark.sqlite_only     # a second writer through sqlite3 itself
def test_a_planning_pass_that_loses_the_insert_race_uses_the_winners_message(reminder_config):
    from scheduler.service import Service
    import sqlite3

    cfg = reminder_config("spring")
    app = open_app(cfg)
    now = datetime(2026, 3, 11, 8, 0)
    service = Service(app, clock=lambda: now)
    service.materialise(now)
    won = []

    def other_pass_first(conn, cursor, statement, parameters, context, executemany):
        # Right before this pass inserts a message, another pass inserts the same key.
        if statement.startswith("INSERT INTO outbox ") and not won:
            other = sqlite3.connect(app.engine.url.database)
            other.execute("PRAGMA busy_timeout=5000")
            other.execute(statement, parameters).fetchall()   # the very same row, first
            other.commit()
            other.close()
            won.append(statement)

    event.listen(app.engine, "before_cursor_execute", other_pass_first)
    try:
        report = service.plan(now)
    finally:
        event.remove(app.engine, "before_cursor_execute", other_pass_first)
    assert won and report.entries == 3
    with Session(app.engine) as s:
        found = s.exec(select(Outbox)).all()
        items = s.exec(select(OutboxItem)).all()
    app.engine.dispose()
    assert len(found) == 2 and all(r.title for r in found)      # the winner's row, rendered
    assert len(items) == 3 and {i.state for i in items} == {"listed"}


def test_the_daemon_takes_back_rows_of_a_tick_killed_while_it_runs(reminder_config):
    from sqlalchemy import update as sa_update
    from scheduler.service import Service
    from tests.scheduler.test_outbox import dead_owner

    cfg = reminder_config("spring")
    app = open_app(cfg)
    now = datetime(2026, 3, 11, 10, 0)
    service = Service(app, clock=lambda: now)
    service.materialise(now)
    service.plan(now)
    with Session(app.engine) as s:   # a tick claimed them, then was killed
        s.execute(sa_update(Outbox).values(status="sending", claim_owner=dead_owner(),
                                           lease_until=datetime(2099, 1, 1), claimed_at=now))
        s.commit()
    jobs = {j.id: j for j in service.build_scheduler(lambda name, body: body).get_jobs()}
    asyncio.run(jobs["dispatch"].func())      # the next dispatch job, not a restart
    asyncio.run(service.aclose())
    with Session(app.engine) as s:
        assert {r.status for r in s.exec(select(Outbox)).all()} == {"sent"}
    app.engine.dispose()
