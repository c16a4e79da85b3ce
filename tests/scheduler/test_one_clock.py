"""The local outbox runs on the service's clock (issue 7, "One clock"): a tick at --now and a
replay name their files and date their messages at the service's time, not the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from cli import main


def tick(cfg, when: str):
    result = CliRunner().invoke(main, ["--config", str(cfg), "tick", "--now", when])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_tick_at_now_names_and_dates_the_outbox_files_at_now(reminder_config, tmp_path):
    cfg = reminder_config("spring")
    tick(cfg, "2026-03-11 10:00")
    files = sorted((tmp_path / "data" / "outbox").iterdir())
    assert files and all(f.name.startswith("20260311-100000-") for f in files)
    for f in files:
        msg = message_from_bytes(f.read_bytes(), policy=policy.default)
        assert msg["Date"].datetime == datetime(2026, 3, 11, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_the_outbox_follows_the_configured_zone(reminder_config, tmp_path):
    cfg = reminder_config("spring", extra="")
    text = cfg.read_text(encoding="utf-8").replace("[general]\n", '[general]\ntimezone = "Asia/Urumqi"\n')
    cfg.write_text(text, encoding="utf-8")
    tick(cfg, "2026-03-11 10:00")
    [first, *_] = sorted((tmp_path / "data" / "outbox").iterdir())
    msg = message_from_bytes(first.read_bytes(), policy=policy.default)
    assert first.name.startswith("20260311-100000-")
    assert msg["Date"].datetime.utcoffset().total_seconds() == 6 * 3600


def test_serve_now_gives_the_channels_the_service_clock(reminder_config):
    from scheduler.app import open_app
    from scheduler.service import Service, offset_clock

    app = open_app(reminder_config("spring"))
    try:
        start = datetime(2026, 3, 11, 9, 30)
        service = Service(app, clock=offset_clock(app, start))
        for channel in service.channels.values():
            at = channel.clock()
            assert at.tzinfo is not None and at.replace(tzinfo=None) - start < timedelta(seconds=5)
    finally:
        app.engine.dispose()
