"""Cron-friendly: `ccal tick --quiet`, idle passes at DEBUG, log times from the service clock,
channels named in words at start-up."""

import asyncio
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from cli import main
from tests.fakes.smtp import FakeSMTP


def email_table(smtp) -> str:
    return (f'[notify.email]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
            f'from_addr = "ccal@example.edu.cn"\n')


def tick(cfg, when, *args):
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", when, *args])
    assert result.exit_code == 0, result.output
    return result


def test_tick_quiet_prints_nothing_when_all_is_well(reminder_config):
    cfg = reminder_config("spring")
    assert tick(cfg, "2026-03-11 10:00", "--quiet").output == ""
    assert "时间 2026-03-11 10:01" in tick(cfg, "2026-03-11 10:01").stdout


def test_tick_quiet_still_reports_failed_sends(reminder_config):
    with FakeSMTP(tempfail_first=4) as smtp:
        cfg = reminder_config("spring", extra=email_table(smtp))
        result = tick(cfg, "2026-03-11 10:00", "--quiet")
    assert result.stdout == ""
    assert "失败待重试 2 条" in result.stderr and "ccal outbox" in result.stderr


def test_an_idle_dispatch_pass_is_debug_not_info():
    from scheduler.dispatcher import DispatchReport
    from scheduler.service import _idle

    assert _idle(DispatchReport())
    assert not _idle(DispatchReport(sent=1)) and not _idle(DispatchReport(dead=1))


def test_start_up_line_names_channels_in_words(reminder_config, caplog):
    from scheduler.app import open_app
    from scheduler.service import Service

    with FakeSMTP() as smtp:
        app = open_app(reminder_config("spring", extra=email_table(smtp)))
        service = Service(app, clock=lambda: datetime(2026, 3, 11, 10, 0))

        async def run():
            stop = asyncio.Event()
            task = asyncio.create_task(service.serve(stop))
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.wait_for(task, 10)

        with caplog.at_level(logging.INFO, logger="scheduler.service"):
            asyncio.run(run())
    start = next(r.getMessage() for r in caplog.records if "starting" in r.getMessage())
    assert f"email via SMTP 127.0.0.1:{smtp.port} (none) from ccal@example.edu.cn" in start
    assert "Channel(" not in start and "LocalOutbox(" not in start


def test_log_times_follow_the_service_clock():
    from scheduler.commands.service import ServiceClockFormatter

    tz = ZoneInfo("Asia/Shanghai")
    formatter = ServiceClockFormatter("%(asctime)s %(message)s", tz, lambda: datetime(2026, 3, 11, 10, 0, 5))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert formatter.format(record) == "2026-03-11 10:00:05+0800 hello"
