"""Sending due outbox rows through real channels: a real SMTP server on loopback (aiosmtpd),
results recorded one by one, back-off while a server is down, recovery when it is back."""

import asyncio
import socket
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from notifiers.base import Channel, Delivery, Recipient
from notifiers.email import EmailChannel
from notifiers.secrets import Secret
from scheduler import outbox
from scheduler.dispatcher import Dispatcher
from scheduler.models import Outbox, Person
from tests.fakes.smtp import FakeSMTP

NOW = datetime(2026, 3, 16, 9, 0)


@pytest.fixture
def people(session):
    rows = [Person(key=f"p{i}@example.edu.cn", name=name, email=f"p{i}@example.edu.cn")
            for i, name in enumerate(["许芳", "吕刚", "王建国", "赵敏", "孙宣", "李文静"])]
    session.add_all(rows)
    session.commit()
    return rows


def plan_rows(session, people, channel="email"):
    for p in people:
        session.add(Outbox(
            topic="digest:2026-03-16", stage="digest", channel=channel, person_id=p.id,
            address=outbox.address_json(Recipient(p.name, email=p.email)),
            title=f"【意识形态工作提醒】{p.name}：1 项工作待办",
            body_text=f"{p.name}同志：您好！\n请于3月20日前报送研判报告。",
            body_html=f"<p>{p.name}同志：您好！</p><p>请于3月20日前报送<b>研判报告</b>。</p>",
            send_at=NOW, next_attempt_at=NOW))
    session.commit()


def email(server_port, **kw):
    return EmailChannel(host="127.0.0.1", port=server_port, security="none",
                        from_addr="ccal@example.edu.cn", from_name="党委宣传部", **kw)


def dispatch(engine, channels, now, **kw):
    async def run():
        d = Dispatcher(engine, channels, clock=lambda: now, **kw)
        try:
            return await d.dispatch()
        finally:
            await d.aclose()
    return asyncio.run(run())


def statuses(engine):
    with Session(engine) as s:
        return sorted(r.status for r in s.exec(select(Outbox)).all())


def test_messages_arrive_with_chinese_headers_and_both_parts(engine, session, people):
    plan_rows(session, people[:2])
    with FakeSMTP(users={"ccal": "s3cret-pass"}) as smtp:
        channel = email(smtp.port, username="ccal", password=Secret("P", "s3cret-pass"))
        report = dispatch(engine, {"email": channel}, NOW)
    assert (report.sent, report.failed, report.dead) == (2, 0, 0)
    assert statuses(engine) == ["sent", "sent"]
    mail = next(m.message for m in smtp.messages if m.rcpt_tos == ("p0@example.edu.cn",))
    assert mail["Subject"] == "【意识形态工作提醒】许芳：1 项工作待办"
    assert mail["From"].addresses[0].display_name == "党委宣传部"
    assert str(mail["To"]) == "许芳 <p0@example.edu.cn>"
    assert mail["X-Ccal-Key"] == f"digest:2026-03-16/digest/email/{people[0].id}"
    assert "请于3月20日前报送研判报告" in mail.get_body(("plain",)).get_content()
    assert "<b>研判报告</b>" in mail.get_body(("html",)).get_content()


def test_a_server_answering_4xx_for_a_while_then_accepting_gets_everything_once(engine, session, people):
    plan_rows(session, people)
    with FakeSMTP(tempfail_first=4) as smtp:
        first = dispatch(engine, {"email": email(smtp.port)}, NOW)
        assert (first.sent, first.failed) == (2, 4)
        with Session(engine) as s:
            failed = s.exec(select(Outbox).where(Outbox.status == "failed")).all()
        assert {r.next_attempt_at for r in failed} == {NOW + timedelta(minutes=1)}
        assert all("451" in r.last_error for r in failed)
        assert dispatch(engine, {"email": email(smtp.port)}, NOW + timedelta(seconds=30)).attempted == 0
        second = dispatch(engine, {"email": email(smtp.port)}, NOW + timedelta(minutes=1))
    assert second.sent == 4
    received = sorted(m.rcpt_tos[0] for m in smtp.messages)
    assert received == sorted(p.email for p in people)   # each exactly once
    assert statuses(engine) == ["sent"] * 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self):
        self.rcpts = []

    async def handle_DATA(self, server, session, envelope):
        self.rcpts.extend(envelope.rcpt_tos)
        return "250 OK"


def test_a_server_down_for_hours_delivers_everything_once_it_is_back(engine, session, people):
    plan_rows(session, people)
    port = free_port()                        # nothing listens there yet: connection refused
    now, attempts = NOW, 0
    while now < NOW + timedelta(hours=4):
        report = dispatch(engine, {"email": email(port, timeout=2)}, now)
        assert report.sent == report.dead == 0
        attempts += 1
        with Session(engine) as s:
            now = min(r.next_attempt_at for r in s.exec(select(Outbox)).all())
    assert attempts >= 8 and statuses(engine) == ["failed"] * 6
    recorder = Recorder()
    server = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=5)
    server.start()
    try:
        report = dispatch(engine, {"email": email(port)}, now)
    finally:
        server.stop()
    assert report.sent == 6 and sorted(recorder.rcpts) == sorted(p.email for p in people)
    assert statuses(engine) == ["sent"] * 6


def test_a_refused_mailbox_is_dead_at_once_and_the_others_go_out(engine, session, people):
    plan_rows(session, people[:3])
    with FakeSMTP(reject_rcpts={"p1@example.edu.cn"}) as smtp:
        report = dispatch(engine, {"email": email(smtp.port)}, NOW)
    assert (report.sent, report.dead) == (2, 1)
    with Session(engine) as s:
        dead, = s.exec(select(Outbox).where(Outbox.status == "dead")).all()
    assert dead.person_id == people[1].id and "550" in dead.last_error


def test_only_due_rows_go_out(engine, session, people):
    plan_rows(session, people[:2])
    with FakeSMTP() as smtp:
        report = dispatch(engine, {"email": email(smtp.port)}, NOW - timedelta(minutes=1))
    assert report.attempted == 0 and not smtp.messages


class CheckingChannel(Channel):
    """Sends nowhere; on each message it looks at the database: every message it finished
    before must already be recorded as sent (committed), so a crash now could repeat at most
    the message in hand."""

    name = "check"

    def __init__(self, engine, fail_on=()):
        super().__init__()
        self.engine = engine
        self.finished = 0
        self.seen = []
        self.fail_on = set(fail_on)

    def sent_in_db(self):
        with Session(self.engine) as s:
            return len(s.exec(select(Outbox).where(Outbox.status.in_(["sent", "failed"]))).all())

    async def _send(self, message):
        self.seen.append((self.finished, self.sent_in_db()))
        self.finished += 1
        if message.recipients[0].name in self.fail_on:
            return [Delivery.failure(message.recipients[0], "boom", retryable=True)]
        return [Delivery.success(message.recipients[0])]


class StreamingChannel(CheckingChannel):
    """A channel that reports each result as it goes (``send_many(..., on_result=)``)."""

    async def send_many(self, messages, on_result=None):
        results = []
        for i, m in enumerate(messages):
            results.append(await self.send(m))
            on_result(i, results[-1])
        return results


@pytest.mark.parametrize("kind", [CheckingChannel, StreamingChannel])
def test_each_result_is_committed_before_the_next_message_goes_out(engine, session, people, kind):
    plan_rows(session, people, channel="check")
    channel = kind(engine, fail_on={"王建国"})
    report = dispatch(engine, {"check": channel}, NOW)
    assert (report.sent, report.failed) == (5, 1)
    assert channel.seen == [(k, k) for k in range(6)]


def test_a_stop_request_finishes_the_message_in_hand_and_releases_the_rest(engine, session, people):
    plan_rows(session, people, channel="check")
    holder = {}

    class Stopping(CheckingChannel):
        async def _send(self, message):
            if self.finished == 1:
                holder["dispatcher"].stop()          # SIGTERM while the 2nd message is out
            return await super()._send(message)

    async def run():
        d = Dispatcher(engine, {"check": Stopping(engine)}, clock=lambda: NOW)
        holder["dispatcher"] = d
        return await d.dispatch()

    report = asyncio.run(run())
    assert report.sent == 2
    with Session(engine) as s:
        rest = s.exec(select(Outbox).where(Outbox.status != "sent")).all()
    assert len(rest) == 4
    assert all(r.status == "failed" and r.attempts == 0 and r.next_attempt_at == NOW for r in rest)


def test_a_channel_that_raises_leaves_its_rows_retryable(engine, session, people):
    plan_rows(session, people[:2], channel="broken")

    class Broken(Channel):
        name = "broken"

        async def _send(self, message):
            raise RuntimeError("secret-token-123 leaked")

        async def send(self, message):   # bypass the base class guard: a really broken channel
            return await self._send(message)

    report = dispatch(engine, {"broken": Broken()}, NOW)
    assert report.failed == 2
    with Session(engine) as s:
        rows = s.exec(select(Outbox)).all()
    assert all(r.status == "failed" and r.last_error == "通道内部错误 RuntimeError" for r in rows)


class Auditor:
    """An SMTP server handler that, as each message arrives, counts the rows already recorded
    as sent: what a kill -9 at that moment would leave behind."""

    def __init__(self, engine, on_message=None):
        self.engine = engine
        self.on_message = on_message
        self.unrecorded = []   # messages accepted earlier but not yet recorded as sent
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        with Session(self.engine) as s:
            recorded = len(s.exec(select(Outbox).where(Outbox.status == "sent")).all())
        self.unrecorded.append(self.received - recorded)
        self.received += 1
        if self.on_message:
            self.on_message(self.received)
        return "250 OK"


def serve_smtp(handler):
    port = free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5)
    server.start()
    return server, port


@pytest.mark.parametrize("concurrency", [1, 3])
def test_the_email_channel_reuses_connections_and_records_each_message_before_the_next(
        engine, session, people, concurrency):
    more = [Person(key=f"q{i}@example.edu.cn", name=f"书记{i}", email=f"q{i}@example.edu.cn")
            for i in range(24)]
    session.add_all(more)
    session.commit()
    plan_rows(session, people + more)
    auditor = Auditor(engine)
    server, port = serve_smtp(auditor)
    try:
        report = dispatch(engine, {"email": email(port, concurrency=concurrency)}, NOW)
    finally:
        server.stop()
    assert report.sent == auditor.received == 30
    # A crash at any moment could repeat at most one message per connection in flight.
    assert max(auditor.unrecorded) <= concurrency - 1
    if concurrency == 1:
        assert auditor.unrecorded == [0] * 30
    assert statuses(engine) == ["sent"] * 30


def test_a_stop_request_during_an_email_batch_releases_what_was_not_started(engine, session, people):
    plan_rows(session, people)
    holder = {}
    auditor = Auditor(engine, on_message=lambda n: n == 2 and holder["dispatcher"].stop())
    server, port = serve_smtp(auditor)

    async def run():
        d = Dispatcher(engine, {"email": email(port, concurrency=1)}, clock=lambda: NOW)
        holder["dispatcher"] = d
        try:
            return await d.dispatch()
        finally:
            await d.aclose()

    try:
        report = asyncio.run(run())
    finally:
        server.stop()
    assert report.sent == auditor.received == 2
    with Session(engine) as s:
        rest = s.exec(select(Outbox).where(Outbox.status != "sent")).all()
    assert len(rest) == 4
    assert all(r.status == "failed" and r.attempts == 0 and r.next_attempt_at == NOW for r in rest)
