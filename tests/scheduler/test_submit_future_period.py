"""`ccal submit … --period 2031` is refused while the period has not begun (issue 10, item 11):
it used to be recorded as 按时 for work nobody was due to do yet."""

from __future__ import annotations

from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlmodel import select

from cli import main
from scheduler.app import UserInputError
from scheduler.models import Occurrence, Submission
from scheduler.submissions import submit


def test_a_period_that_has_not_begun_is_refused_and_nothing_is_written(tracking_app):
    with pytest.raises(UserInputError, match="期间 2031-H1 尚未开始（2031年1月1日起）"):
        submit(tracking_app, "tpack.report", "LTX", "2031-H1", at=datetime(2026, 6, 1, 9, 0))
    with tracking_app.session() as s:
        assert s.exec(select(Submission)).all() == []
        assert s.exec(select(Occurrence).where(Occurrence.period.like("2031%"))).all() == []


def test_the_second_half_year_is_refused_in_june_and_accepted_from_july(tracking_app):
    with pytest.raises(UserInputError, match="尚未开始"):
        submit(tracking_app, "tpack.report", "LTX", "2026-H2", at=datetime(2026, 6, 30, 17, 0))
    r = submit(tracking_app, "tpack.report", "LTX", "2026-H2", at=datetime(2026, 7, 1, 9, 0))
    assert r.occurrence.period == "2026-H2" and not r.submission.late


def test_the_cli_refuses_a_future_year_with_a_chinese_message(tracking_app):
    result = CliRunner().invoke(main, ["--config", str(tracking_app.config.path), "submit",
                                       "tpack.study", "--unit", "LTX", "--period", "2031",
                                       "--at", "2026-06-01 09:00"])
    assert result.exit_code == 1
    assert "期间 2031 尚未开始" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args,chinese,english", [
    (["tpack.study", "--unit", "LTX", "--period", "2031"], "期间 2031 尚未开始", "has not begun"),
    (["tpack.report", "--unit", "LTX", "--period", "2026-Q5"], "未知期间", "unknown period"),
    (["tpack.report", "--unit", "JWC", "--period", "2026-H1"], "该单位类型为处室", "office"),
    (["tpack.study", "--unit", "LTX", "--period", "第三年"], "期间格式有误", "bad period label"),
    (["tpack.nokey", "--unit", "LTX", "--period", "2026"], "未知事项编号", "unknown obligation"),
    (["tpack.study", "--unit", "NOPE", "--period", "2026"], "未知单位代码", "unknown unit"),
])
def test_refusals_are_in_chinese_only(tracking_app, args, chinese, english):
    # audit7: these messages carried an English copy ("未知期间 unknown period … for …", "(period
    # 2031 has not begun: it starts …)") or an English unit kind ("该单位类型为 office").
    result = CliRunner().invoke(main, ["--config", str(tracking_app.config.path), "submit", *args,
                                       "--at", "2026-06-01 09:00"])
    assert result.exit_code == 1
    assert chinese in result.output and english not in result.output, result.output
