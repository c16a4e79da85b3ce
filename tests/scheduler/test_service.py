"""The reminder service end to end: `ccal tick --now` through click's runner on a temp SQLite
database, a real SMTP server (aiosmtpd) on loopback receiving the messages."""

import asyncio
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from cli import main
from scheduler.app import open_app
from scheduler.models import Outbox
from scheduler.service import Service, service_settings, years_to_post
from tests.fakes.smtp import FakeSMTP
from tests.fakes.wecom import FakeWeCom

# rpack.spring: window 11-20 March 2026 (Wed-Fri), working days after it: 23 (Mon), 24, 25 ...
STAGE_DAYS = {
    date(2026, 3, 11): "notice",       # a short window is announced the day it opens
    date(2026, 3, 17): "before-3d",
    date(2026, 3, 19): "before-1wd",
    date(2026, 3, 20): "due",
    date(2026, 3, 23): "overdue-1",    # working day 1 after the due date
    date(2026, 3, 25): "overdue-2",    # working day 3: escalates
    date(2026, 3, 27): "overdue-3",
    date(2026, 3, 31): "overdue-4",
}
XU, LV, WANG, ZHAO, SUN = ("xu@example.edu.cn", "lv@example.edu.cn", "wang@example.edu.cn",
                           "zhao@example.edu.cn", "sun@example.edu.cn")


@pytest.fixture
def smtp():
    with FakeSMTP() as server:
        yield server


def email_table(smtp) -> str:
    return (f'[notify.email]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
            f'from_addr = "ccal@example.edu.cn"\n')


def tick(cfg, when: str, *args):
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", when, *args])
    assert result.exit_code == 0, result.output
    return result.output


def received_by_day(smtp):
    """(sending day, recipient address) -> [(stage, plain text)] from the X-Ccal-Key header."""
    out = defaultdict(list)
    for mail in smtp.messages:
        topic, stage, _channel, _person = mail.message["X-Ccal-Key"].split("/")
        day = date.fromisoformat(topic.removeprefix("digest:"))
        out[(day, mail.rcpt_tos[0])].append((stage, mail.message.get_body(("plain",)).get_content()))
    return out


def test_a_simulated_month_of_stages_windows_and_escalation(reminder_config, smtp):
    cfg = reminder_config("spring", extra=email_table(smtp))
    start = date(2026, 3, 1)
    for n in range(31):
        day = start + timedelta(days=n)
        tick(cfg, f"{day} 07:30")   # before the window: planned, not sent
        tick(cfg, f"{day} 10:00")
    got = received_by_day(smtp)
    # Working days only, one message per person and day, and only on stage days.
    days_xu = sorted(d for d, who in got if who == XU)
    assert days_xu == sorted(STAGE_DAYS)
    assert all(len(v) == 1 for v in got.values())
    assert all(d.weekday() < 5 for d, _ in got)
    # The two units of 许芳 come in one message, grouped by unit.
    (_, text), = got[(date(2026, 3, 11), XU)]
    assert "您负责的 2 个单位" in text and "【第一党支部】" in text and "【第三党支部】" in text
    assert "报送春季意识形态工作研判报告" in text and "2026年3月20日" in text
    # Escalation from the 3rd working day overdue: supervisor (explicit for B2, the parent
    # unit's secretary for B1/B3) and the propaganda contact; before that, nobody else.
    escalated = sorted(d for d in STAGE_DAYS if d >= date(2026, 3, 25))
    for who in (LV, ZHAO, WANG, SUN):
        expected = sorted(STAGE_DAYS) if who == LV else escalated
        assert sorted(d for d, w in got if w == who) == expected, who
    (_, text), = got[(date(2026, 3, 25), SUN)]
    assert "【逾期督办】" in received_subject(smtp, date(2026, 3, 25), SUN)
    assert "3 个单位" in text and "责任人：吕刚（书记）" in text
    (_, text), = got[(date(2026, 3, 25), WANG)]
    assert "第一党支部" in text and "第三党支部" in text and "第二党支部" not in text
    # Nothing at all is left unsent or failed.
    with Session(open_app(cfg).engine) as s:
        assert {r.status for r in s.exec(select(Outbox)).all()} == {"sent"}


def received_subject(smtp, day, who):
    for mail in smtp.messages:
        if mail.rcpt_tos[0] == who and f"digest:{day}" in mail.message["X-Ccal-Key"]:
            return str(mail.message["Subject"])
    raise AssertionError(f"nothing for {who} on {day}")


def test_reminders_stop_once_a_submission_is_recorded(reminder_config, smtp):
    cfg = reminder_config("spring", extra=email_table(smtp))
    tick(cfg, "2026-03-19 10:00")
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(cfg), "submit", "rpack.spring", "--unit", "B1",
                                  "--period", "2026", "--at", "2026-03-19 15:00"])
    assert result.exit_code == 0, result.output
    for day in ("2026-03-20", "2026-03-23", "2026-03-25"):
        tick(cfg, f"{day} 10:00")
    got = received_by_day(smtp)
    (_, before), = got[(date(2026, 3, 19), XU)]
    assert "第一党支部" in before
    for day in (date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 25)):
        (_, text), = got[(day, XU)]
        assert "第三党支部" in text and "第一党支部" not in text
    (_, text), = got[(date(2026, 3, 25), WANG)]   # escalation for B3 only
    assert "第三党支部" in text and "第一党支部" not in text


def test_a_waiver_takes_an_item_out_of_a_message_not_yet_sent(reminder_config, smtp):
    cfg = reminder_config("spring", extra=email_table(smtp))
    out = tick(cfg, "2026-03-11 07:00")     # planned for 09:00
    assert "不在发送时段，下一发送时段 2026-03-11 09:00" in out
    runner = CliRunner()
    for unit in ("B1", "B3"):
        result = runner.invoke(main, ["--config", str(cfg), "waive", "rpack.spring", "--unit", unit,
                                      "--period", "2026", "--reason", "本年度合并报送"])
        assert result.exit_code == 0, result.output
    tick(cfg, "2026-03-11 09:00")
    assert [m.rcpt_tos[0] for m in smtp.messages] == [LV]   # 许芳 has nothing left
    listing = runner.invoke(main, ["--config", str(cfg), "outbox", "--status", "cancelled",
                                   "--format", "json"])
    assert '"recipient": "许芳"' in listing.output


def test_catch_up_after_downtime_sends_one_message_per_person(reminder_config, smtp):
    cfg = reminder_config("spring", extra=email_table(smtp))
    tick(cfg, "2026-03-11 10:00")
    tick(cfg, "2026-03-26 10:00")      # down from the 12th to the 25th
    got = received_by_day(smtp)
    assert sorted(got) == sorted([(date(2026, 3, 11), XU), (date(2026, 3, 11), LV),
                                  *((date(2026, 3, 26), w) for w in (XU, LV, WANG, ZHAO, SUN))])
    (_, text), = got[(date(2026, 3, 26), LV)]
    assert "已逾期 6 天" in text    # the current stage, overdue-2, not the missed ones


def test_outside_the_window_waits_for_the_next_working_day(reminder_config, smtp):
    cfg = reminder_config("spring", extra=email_table(smtp))
    out = tick(cfg, "2026-03-21 10:00")   # Saturday: the due stage is planned, not sent
    assert "下一发送时段 2026-03-23 09:00" in out and not smtp.messages
    tick(cfg, "2026-03-22 20:00")         # Sunday evening: still nothing
    assert not smtp.messages
    tick(cfg, "2026-03-23 09:00")         # Monday: overdue-1 replaced the due stage, one message
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [LV, XU]
    assert all("digest:2026-03-23" in m.message["X-Ccal-Key"] for m in smtp.messages)
    assert all("已逾期 3 天" in m.message.get_body(("plain",)).get_content() for m in smtp.messages)


def test_nothing_configured_writes_the_messages_to_the_local_outbox(reminder_config, tmp_path):
    cfg = reminder_config("spring")
    out = tick(cfg, "2026-03-11 10:00")
    assert "发送：成功 2" in out
    files = sorted((tmp_path / "data" / "outbox").iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    assert b"X-Ccal-Key: digest:2026-03-11/digest/email/" in files[0].read_bytes()


def test_the_service_reads_its_settings_and_names_bad_ones(tmp_path, reminder_config):
    cfg = reminder_config("spring", extra='[service]\nbatch_size = 0\n')
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", "2026-03-11 10:00"])
    assert result.exit_code == 1
    assert f"{cfg}:" in result.output and "字段 service.batch_size" in result.output
    assert "Traceback" not in result.output
    bad_policy = reminder_config("spring", extra='[reminders]\nbefore_days = "3"\n')
    result = CliRunner().invoke(main, ["--config", str(bad_policy), "tick"])
    assert result.exit_code == 1
    # The config's [reminders] errors name the line too (issue 10, item 9).
    assert f"{bad_policy}:9: 字段 reminders.before_days: 必须是不小于 1 的整数列表" in result.output
    good = reminder_config("spring", extra='[service]\nplan_every_minutes = 2\nchannels = ["email"]\n'
                                           'materialise_at = "01:30"\nscore_at = "02:15"\nsender = "宣传部"\n')
    settings = service_settings(open_app(good).config)
    assert settings.plan_every == timedelta(minutes=2) and settings.routes == ("email",)
    assert settings.materialise_at.hour == 1 and settings.sender == "宣传部"
    assert (settings.score_at.hour, settings.score_at.minute) == (2, 15)


def test_the_daemon_schedules_its_jobs_in_the_configured_zone(reminder_config):
    app = open_app(reminder_config("spring"))
    service = Service(app, clock=lambda: datetime(2026, 3, 11, 10, 0))
    scheduler = service.build_scheduler(lambda name, body: body)
    assert scheduler.timezone == ZoneInfo("Asia/Shanghai")
    jobs = {job.id: job for job in scheduler.get_jobs()}
    # "lease": on SQLite the daemon renews its one-daemon-per-file lease (docs/service.md, Faults);
    # on PostgreSQL several daemons may share the database, so there is no such job.
    sqlite = {"lease"} if app.engine.dialect.name == "sqlite" else set()
    assert set(jobs) == {"materialise", "score", "holidays", "plan", "dispatch"} | sqlite
    assert jobs["dispatch"].trigger.interval == timedelta(minutes=1)
    assert str(jobs["score"].trigger) == "cron[hour='0', minute='10']"     # daily, after materialise
    # January still posts last year's entries: December work reported late moves its score.
    assert years_to_post(datetime(2026, 1, 5)) == [2025, 2026] and years_to_post(datetime(2026, 2, 1)) == [2026]
    assert str(jobs["materialise"].trigger.timezone) == "Asia/Shanghai"


def test_serve_runs_a_catch_up_pass_and_stops_on_request(reminder_config, smtp):
    app = open_app(reminder_config("spring", extra=email_table(smtp)))
    service = Service(app, clock=lambda: datetime(2026, 3, 11, 10, 0))

    async def run():
        stop = asyncio.Event()
        task = asyncio.create_task(service.serve(stop))
        for _ in range(200):
            if len(smtp.messages) >= 2:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(run())
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [LV, XU]


def test_dead_after_the_retry_limit_until_an_operator_requeues(reminder_config):
    with FakeSMTP(tempfail_first=4) as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp) + "[service]\nmax_attempts = 2\n")
        assert "失败待重试 2" in tick(cfg, "2026-03-11 10:00")
        assert "已放弃 2" in tick(cfg, "2026-03-11 10:01")
        runner = CliRunner()
        listing = runner.invoke(main, ["--config", str(cfg), "outbox", "--status", "dead"])
        # Two rows, and the 投递异常 summary above the table counts them (issue 10 item 12).
        assert listing.exit_code == 0 and listing.output.count("重试 2 次仍失败：SMTP 451") == 3
        assert "已放弃 2 条（邮件）：重试 2 次仍失败：SMTP 451" in listing.output
        assert "已放弃" in listing.output
        assert not smtp.messages
        result = runner.invoke(main, ["--config", str(cfg), "outbox", "retry", "--dead"])
        assert result.exit_code == 0 and "已重新排队 2 条" in result.output
        assert "成功 2" in tick(cfg, "2026-03-11 10:05")
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [LV, XU]


def test_email_and_the_wecom_application_both_deliver(reminder_config, smtp, monkeypatch):
    monkeypatch.setenv("CCAL_WECOM_APP_SECRET", "corp-secret-abcdef123456")
    with FakeWeCom(users={"XuFang", "LiWenJing"}) as wecom:
        cfg = reminder_config("spring", extra=email_table(smtp) + (
            f'[notify.wecom_app]\nbase_url = "{wecom.base_url}"\ncorp_id = "ww-test-corp"\n'
            f'agent_id = 1000002\n'))
        out = tick(cfg, "2026-03-25 10:00")       # escalation day: 王建国 too
        sent = wecom.calls("/cgi-bin/message/send")
    assert "成功 6" in out and "已放弃 1" in out
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted([XU, LV, WANG, ZHAO, SUN])
    # 许芳 and 王建国 have WeCom ids (吕刚, 赵敏, 孙宣 do not); 王建国 is not in the corp.
    assert sorted(c.body["touser"] for c in sent) == ["WangJianGuo", "XuFang"]
    listing = CliRunner().invoke(main, ["--config", str(cfg), "outbox", "--status", "dead",
                                        "--format", "json"])
    assert '"recipient": "王建国"' in listing.output and "corp-secret" not in listing.output
