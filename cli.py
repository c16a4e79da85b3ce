"""`ccal`: the command line. Parses arguments, calls `scheduler`/`obligations`, prints.

Every command takes `--config FILE` (env CCAL_CONFIG), before or after the command name;
env CCAL_DATABASE_URL overrides the database URL. User errors (bad config, pack, CSV, unknown
unit...) are printed to stderr without a traceback, exit status 1; usage errors exit 2.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from obligations.holiday_files import HolidayFileError
from obligations.packs import PackError
from scheduler.config import ConfigError
from scheduler.db import DatabaseError
from scheduler.evidence import EvidenceError
from scheduler.org import OrgImportError
from scheduler.tables import (
    FORMATS, HOLIDAYS_FOOTNOTE, STATE_WORDS, Column, date_cell, provisional_footnotes, render, render_table,
)

# Errors a clerk can fix: shown as a message, never as a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError, PackError, HolidayFileError, OrgImportError, DatabaseError, EvidenceError,
)


def _user_errors() -> tuple[type[Exception], ...]:
    from scheduler.app import UserInputError
    from scheduler.service import SERVICE_USER_ERRORS
    return USER_ERRORS + (UserInputError,) + SERVICE_USER_ERRORS


class CcalError(click.ClickException):
    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


class CcalGroup(click.Group):
    """Turns user errors raised anywhere below into a clean message and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except _user_errors() as e:
            raise CcalError(str(e)) from None
        except OSError as e:   # unreadable file, full disk...: the message names the file
            raise CcalError(f"{e.filename or ''}: {e.strerror or e}".lstrip(": ")) from None
        except SQLAlchemyOperationalError as e:
            # The driver's message (no URL, so no password): locked or unreachable database.
            raise CcalError(f"数据库不可用 database unavailable: {e.orig}") from None


# --------------------------------------------------------------------------- parameter types

class DateType(click.ParamType):
    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            self.fail(f"{value!r} 不是日期，格式为 YYYY-MM-DD（例如 2026-06-15）", param, ctx)


class DateTimeType(click.ParamType):
    name = "DATETIME"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        text = value.strip().replace(" ", "T", 1)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} 不是日期时间，格式为 YYYY-MM-DD 或 'YYYY-MM-DD HH:MM'", param, ctx)
        if parsed.tzinfo is not None:
            self.fail("请写本地时间（配置的时区），不要带时区后缀", param, ctx)
        return parsed


DATE = DateType()
DATETIME = DateTimeType()


# --------------------------------------------------------------------------- shared options

class State:
    def __init__(self) -> None:
        self.config_path: str | None = None
        self._app = None

    def app(self):
        if self._app is None:
            from scheduler.app import open_app
            self._app = open_app(self.config_path)
        return self._app

    def close(self) -> None:
        # Release the database file (SQLite WAL) as soon as the command is done.
        if self._app is not None and "engine" in self._app.__dict__:
            self._app.engine.dispose()


def _set_config(ctx: click.Context, _param, value):
    if value is not None:
        ctx.ensure_object(State).config_path = value
    return value


_CONFIG_HELP = "配置文件 config file (env CCAL_CONFIG)"


def config_option(f: Callable) -> Callable:
    """--config after the subcommand too: `ccal overdue --config X`."""
    return click.option("--config", type=click.Path(dir_okay=False), expose_value=False,
                        callback=_set_config, help=_CONFIG_HELP)(f)


def format_option(choices=FORMATS):
    return click.option("--format", "fmt", type=click.Choice(choices), default="table",
                        show_default=True, help="输出格式 output format")


def as_of_option(f: Callable) -> Callable:
    return click.option("--as-of", type=DATE, default=None,
                        help="按哪一天计算（默认今天，配置的时区）date to evaluate at (default today)")(f)


def _app():
    return click.get_current_context().ensure_object(State).app()


def _as_of(app, value: date | None) -> date:
    return value if value is not None else app.today()


def _out(text: str) -> None:
    click.echo(text, nl=False)


@click.group(cls=CcalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), envvar="CCAL_CONFIG", expose_value=False,
              callback=_set_config, help=_CONFIG_HELP)
@click.version_option(package_name="compliance-calendar", prog_name="ccal")
@click.pass_context
def main(ctx: click.Context) -> None:
    """ccal：意识形态工作责任制 合规日历与提醒。 Compliance calendar for the ideology-work
    responsibility system."""
    ctx.call_on_close(ctx.ensure_object(State).close)


# --------------------------------------------------------------------------- init / org

@main.command()
@click.option("--demo", is_flag=True,
              help="载入示例学院、本年度事项和去年以来的示例记录 load the demo college and its history")
@click.option("--now", type=DATETIME, default=None,
              help="示例记录截至此时（默认现在）record the demo history up to this time (default now)")
@config_option
def init(demo: bool, now: datetime | None) -> None:
    """创建或升级数据库 Create or upgrade the database."""
    from scheduler.db import current_revision
    from scheduler.materialise import materialise

    app = _app()
    click.echo(f"数据库已就绪（版本 {current_revision(app.engine)}）")
    now = now or app.now()
    year = now.year
    if demo:
        from scheduler.demo import load_demo
        with app.session() as session:
            result = load_demo(session, now=now)
        click.echo(f"示例学院：{result.summary()}")
    elif app.config.organisation.file is not None:
        from scheduler.org import import_org
        with app.session() as session:
            result = import_org(session, app.config.organisation.file, now=now)
        click.echo(f"组织架构 {app.config.organisation.file}：{result.summary()}")
    else:
        return
    counts = materialise(app, [year])
    click.echo(f"{year} 年事项：新增 {counts.created}，更新 {counts.updated}")
    if demo:
        from scheduler.demo import load_history
        history = load_history(app, now)
        click.echo(f"示例记录（截至 {now:%Y-%m-%d %H:%M}）：{history.summary()}")
        from scheduler.commands.web import demo_access
        for line in demo_access(app):
            click.echo(line)


@main.group()
def org() -> None:
    """组织架构 Organisation (units, people, roles)."""


@org.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--partial", is_flag=True,
              help="导入正确的行，跳过有误的行（退出码仍为 1）import the good rows, skip the bad ones")
@config_option
def org_import(file: str, partial: bool) -> None:
    """从 CSV 导入单位与人员 Import units and people from CSV. Without --partial nothing is
    imported when any row is bad."""
    from scheduler.org import import_org

    app = _app()
    try:
        with app.session() as session:
            result = import_org(session, file, partial=partial, now=app.now())
    except OrgImportError as e:
        for err in e.errors:
            click.echo(str(err), err=True)
        raise CcalError(f"{len(e.errors)} 处错误，未导入任何数据 nothing imported") from None
    click.echo(result.summary())
    if result.errors:
        for err in result.errors:
            click.echo(str(err), err=True)
        raise CcalError(f"{len({e.line for e in result.errors})} 行有误已跳过 bad rows skipped")


# --------------------------------------------------------------------------- packs

@main.group()
def packs() -> None:
    """规则包 Rule packs."""


@packs.command("check")
@click.argument("directory", type=click.Path(file_okay=False))
@config_option
def packs_check(directory: str) -> None:
    """校验目录中的规则包 Validate every pack in DIRECTORY; list every error."""
    from obligations.packs import check_dir

    errors = check_dir(Path(directory))
    if errors:
        for e in errors:
            click.echo(str(e), err=True)
        raise CcalError(f"{len(errors)} 个错误 errors in {directory}")
    n = len(list(Path(directory).glob("*.toml")))
    click.echo(f"OK：{directory} 中 {n} 个规则包均有效")


@packs.command("list")
@format_option()
@config_option
def packs_list(fmt: str) -> None:
    """已启用的规则包 The enabled packs (and the bundled ones not enabled)."""
    from obligations.packs import bundled_pack_names

    app = _app()
    rows = [{"pack": p.name, "title": p.title, "obligations": len(p.obligations), "enabled": True,
             "path": str(p.path)} for p in app.packs]
    enabled = {p.name for p in app.packs}
    rows += [{"pack": n, "title": "", "obligations": None, "enabled": False, "path": ""}
             for n in bundled_pack_names() if n not in enabled]
    cols = [Column("pack", "规则包"), Column("title", "名称"),
            Column("obligations", "事项数", align="right"),
            Column("enabled", "启用", show=lambda r: "是" if r["enabled"] else "否"),
            Column("path", "文件")]
    _out(render(rows, cols, fmt, csv_keys=["pack", "title", "obligations", "enabled", "path"]))


# --------------------------------------------------------------------------- working days

@main.group()
def workdays() -> None:
    """工作日计算 Working-day arithmetic (China's calendar)."""


@workdays.command("deadline")
@click.argument("event_date", type=DATE)
@click.option("--before", "n", type=click.IntRange(min=0), required=True,
              help="活动前第 N 个工作日（活动当天不计）N working days before the event")
@format_option(("table", "json"))
@config_option
def workdays_deadline(event_date: date, n: int, fmt: str) -> None:
    """活动前 N 个工作日的截止日期 The deadline N working days before EVENT_DATE."""
    from scheduler.tables import render_json

    cal = _app().calendar
    d = cal.workdays_before(event_date, n)
    if fmt == "json":
        _out(render_json([{"event": event_date, "deadline": d.date, "counted": d.counted,
                           "provisional": d.provisional}]))
        return
    mark = "*" if d.provisional else ""
    click.echo(f"截止日期 {d.date.isoformat()}{mark}（活动 {event_date.isoformat()} 前第 {d.counted} 个工作日，"
               f"活动当天不计，截止当天计入）")
    if d.provisional:
        click.echo(HOLIDAYS_FOOTNOTE)


@workdays.command("count")
@click.argument("a", type=DATE)
@click.argument("b", type=DATE)
@config_option
def workdays_count(a: date, b: date) -> None:
    """A 到 B（含两端）的工作日数 Working days in [A, B], both ends included."""
    cal = _app().calendar
    n = cal.count(a, b)
    provisional = cal.spans_provisional(a, b) if b >= a else False
    click.echo(f"{n}{'*' if provisional else ''}")
    if provisional:
        click.echo(HOLIDAYS_FOOTNOTE, err=True)


# --------------------------------------------------------------------------- holidays

@main.group()
def holidays() -> None:
    """节假日数据 Holiday data."""


@holidays.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
def holidays_import(file: str) -> None:
    """导入国务院节假日安排 Validate and install a year's official holiday data."""
    from obligations.holiday_files import install_holiday_file
    from scheduler.materialise import materialise

    app = _app()
    years = install_holiday_file(Path(file), app.holiday_dir)
    app.reload_calendar()
    click.echo(f"已安装 {', '.join(map(str, years))} 年节假日数据到 {app.holiday_dir}")
    # Windows of periods starting the year before can reach into an installed year.
    affected = range(min(years) - 1, max(years) + 1)
    counts = materialise(app, affected, create=False)
    click.echo(f"已更新 {counts.updated} 项截止日期 occurrences updated")


@holidays.command("show")
@click.argument("year", type=click.IntRange(1900, 2200))
@format_option(("table", "json"))
@config_option
def holidays_show(year: int, fmt: str) -> None:
    """某年的节假日与调休 A year's holidays and adjusted working days, and their source."""
    from scheduler.queries import year_holidays
    from scheduler.tables import render_json

    data = year_holidays(_app().calendar, year)
    if fmt == "json":
        _out(render_json([data]))
        return
    words = {"user": "管理员导入 user", "official": "官方数据 official", "provisional": "暂定 provisional"}
    click.echo(f"{year} 年数据来源：{words.get(data['source'], data['source'])}")
    cols = [Column("date", "日期"), Column("weekday", "星期"), Column("name", "名称")]
    weekday = "一二三四五六日"
    for title, key in (("放假", "holidays"), ("调休上班", "workdays")):
        click.echo(f"\n{title}：")
        rows = [{**r, "weekday": "周" + weekday[r["date"].weekday()]} for r in data[key]]
        _out(render_table(rows, cols))
    if data["source"] == "provisional":
        click.echo("\n* 暂定：按全国年节及纪念日放假办法推算，未含调休；国务院公布后请用 ccal holidays import 导入")


# --------------------------------------------------------------------------- materialise

@main.command("materialise")
@click.argument("years", type=click.IntRange(1900, 2200), nargs=-1, required=True)
@click.option("--unit", help="只处理该单位 only this unit")
@config_option
def materialise_cmd(years: tuple[int, ...], unit: str | None) -> None:
    """生成各年度事项 Create/update the occurrences of YEARS (idempotent)."""
    from scheduler.materialise import materialise

    app = _app()
    units = None
    if unit:
        with app.session() as session:
            units = [app.unit(session, unit).code]
    c = materialise(app, years, units)
    click.echo(f"新增 {c.created}，更新 {c.updated}，不变 {c.unchanged}")


# --------------------------------------------------------------------------- recording

@main.command()
@click.argument("key")
@click.option("--unit", required=True, help="单位代码 unit code")
@click.option("--period", required=True, help="期间 period label (2026-06, 2026-Q2, 2026-H1, 2026, 2026-autumn, E12)")
@click.option("--at", type=DATETIME, help="完成时间（默认现在）when it was done (default now)")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="证明材料文件（可多次）evidence file")
@click.option("--note", default="", help="备注 note")
@click.option("--corrects", type=int, help="更正的提交记录编号 id of the submission this one replaces")
@config_option
def submit(key, unit, period, at, evidence, note, corrects) -> None:
    """登记完成情况 Record a submission."""
    from scheduler.submissions import submit as do_submit

    r = do_submit(_app(), key, unit, period, at=at, evidence=[Path(e) for e in evidence],
                  note=note, corrects=corrects)
    s, occ = r.submission, r.occurrence
    state = "逾期完成" if s.late else "按时"
    click.echo(f"已登记 提交记录 {s.id}：{key} / {unit} / {period}，{s.submitted_at:%Y-%m-%d %H:%M}，"
               f"截止 {occ.due.isoformat()}，{state}")
    if corrects:
        click.echo(f"更正了提交记录 {corrects}")
    for ev in r.evidence:
        click.echo(f"证明材料 {ev.original_name} -> {ev.stored_path}")


@main.group()
def submission() -> None:
    """提交记录 Submissions."""


@submission.command("withdraw")
@click.argument("submission_id", type=int)
@click.option("--reason", required=True, help="撤回原因 reason")
@config_option
def submission_withdraw(submission_id: int, reason: str) -> None:
    """撤回提交记录（新增一条撤回记录，原记录保留）Withdraw a submission (as a new row)."""
    from scheduler.submissions import withdraw

    row = withdraw(_app(), submission_id, reason)
    click.echo(f"已撤回提交记录 {submission_id}（撤回记录 {row.id}）")


@main.command()
@click.argument("key")
@click.option("--unit", required=True, help="单位代码 unit code")
@click.option("--period", required=True, help="期间 period label")
@click.option("--reason", required=True, help="豁免原因 reason")
@config_option
def waive(key, unit, period, reason) -> None:
    """豁免某期事项 Waive an occurrence."""
    from scheduler.submissions import waive as do_waive

    w, occ = do_waive(_app(), key, unit, period, reason)
    click.echo(f"已豁免 {key} / {unit} / {period}（豁免记录 {w.id}）")


@main.group()
def waiver() -> None:
    """豁免记录 Waivers."""


@waiver.command("revoke")
@click.argument("waiver_id", type=int)
@click.option("--reason", required=True, help="撤销原因 reason")
@config_option
def waiver_revoke(waiver_id: int, reason: str) -> None:
    """撤销豁免（新增一条记录）Revoke a waiver (as a new row)."""
    from scheduler.submissions import revoke_waiver

    row = revoke_waiver(_app(), waiver_id, reason)
    click.echo(f"已撤销豁免记录 {waiver_id}（记录 {row.id}）")


@main.group()
def event() -> None:
    """活动与会议 Events and meetings."""


@event.command("add")
@click.argument("key")
@click.option("--unit", required=True, help="单位代码 unit code")
@click.option("--date", "on", type=DATE, required=True, help="活动/会议日期 date")
@click.option("--period", help="会议所属期间（锚点会议）period of an anchor meeting, e.g. 2026-Q1")
@click.option("--title", default="", help="名称 title")
@config_option
def event_add(key, unit, on, period, title) -> None:
    """登记活动或会议日期（讲座请用 ccal lecture register）Record an event or an anchor meeting date."""
    from scheduler.lectures import refuse_bare_event
    from scheduler.submissions import record_event

    app = _app()
    refuse_bare_event(app, key)
    r = record_event(app, key, unit, on, period=period, title=title)
    if r.occurrence is not None:
        occ = r.occurrence
        mark = "*" if occ.provisional else ""
        click.echo(f"已登记活动 {r.event.id}（{on.isoformat()}）：{key} / {unit} / {occ.period}，"
                   f"截止 {occ.due.isoformat()}{mark}")
        if occ.provisional:
            click.echo(HOLIDAYS_FOOTNOTE)
        return
    click.echo(f"已登记 {key} {period} 会议日期 {on.isoformat()}（记录 {r.event.id}）")
    seen = set()
    for occ in r.moved:
        if (occ.obligation_key, occ.due) in seen:
            continue
        seen.add((occ.obligation_key, occ.due))
        click.echo(f"  {occ.obligation_key} {occ.period} 截止 {occ.due.isoformat()}{'*' if occ.provisional else ''}")


# --------------------------------------------------------------------------- queries

def _status_word(r) -> str:
    return STATE_WORDS.get(r["status"], r["status"])


UNIT_COLS = [Column("unit", "单位代码"), Column("unit_name", "单位")]
OB_COLS = [Column("obligation", "编号"), Column("title", "事项"), Column("period", "期间")]
LIST_KEYS = ["unit", "unit_name", "obligation", "title", "period", "opens", "due", "provisional",
             "status", "done", "required"]


@main.command()
@click.option("--unit", help="只看该单位 only this unit")
@as_of_option
@format_option()
@config_option
def overdue(unit, as_of, fmt) -> None:
    """已逾期事项 Open occurrences past their due date."""
    from scheduler.queries import overdue as query

    app = _app()
    rows = query(app, _as_of(app, as_of), unit)
    cols = [*UNIT_COLS, *OB_COLS, Column("due", "截止日期", show=date_cell("due")),
            Column("days_overdue", "逾期天数", align="right"),
            Column("done", "进度", show=lambda r: f"{r['done']}/{r['required']}"),
            Column("status", "状态", show=_status_word)]
    _out(render(rows, cols, fmt, provisional_footnotes(rows), csv_keys=LIST_KEYS + ["days_overdue"]))


@main.command()
@click.option("--days", type=click.IntRange(min=0, max=3660), default=30, show_default=True, help="未来天数 days ahead")
@click.option("--unit", help="只看该单位 only this unit")
@as_of_option
@format_option()
@config_option
def upcoming(days, unit, as_of, fmt) -> None:
    """即将到期事项 What falls due in the next DAYS days."""
    from scheduler.queries import upcoming as query

    app = _app()
    rows = query(app, _as_of(app, as_of), days, unit)
    cols = [*UNIT_COLS, *OB_COLS, Column("opens", "开始日期"), Column("due", "截止日期", show=date_cell("due")),
            Column("days_left", "剩余天数", align="right"),
            Column("done", "进度", show=lambda r: f"{r['done']}/{r['required']}"),
            Column("status", "状态", show=_status_word)]
    _out(render(rows, cols, fmt, provisional_footnotes(rows), csv_keys=LIST_KEYS + ["days_left"]))


@main.command()
@click.argument("code")
@click.option("--year", type=click.IntRange(1900, 2200), help="年度（默认 as-of 所在年）year")
@as_of_option
@format_option()
@config_option
def status(code, year, as_of, fmt) -> None:
    """单位年度完成情况 One unit's year: done, late, open, overdue, waived."""
    from scheduler.queries import unit_year

    app = _app()
    day = _as_of(app, as_of)
    result = unit_year(app, code, year or day.year, day)
    rows = result.rows
    cols = [*OB_COLS, Column("due", "截止日期", show=date_cell("due")),
            Column("status", "状态", show=_status_word), Column("progress", "进度")]
    if fmt != "table":
        _out(render(rows, cols, fmt, csv_keys=LIST_KEYS + ["days_overdue", "days_left", "progress"]))
        return
    click.echo(f"{result.unit_name}（{result.unit}）{result.year} 年度，截至 {day.isoformat()}")
    t = result.totals
    summary = "合计：" + "，".join(f"{STATE_WORDS[s]} {t[s]}" for s in
                                   ("done", "late", "open", "overdue", "waived", "upcoming"))
    _out(render_table(rows, cols, [summary, *provisional_footnotes(rows)]))


@main.command("calendar")
@click.option("--from", "start", type=DATE, required=True, help="起始日期 first due date")
@click.option("--to", "end", type=DATE, required=True, help="结束日期 last due date")
@click.option("--unit", help="只看该单位 only this unit")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="写入文件 write to FILE")
@as_of_option
@format_option(FORMATS + ("ics",))
@config_option
def calendar_cmd(start, end, unit, output, as_of, fmt) -> None:
    """日程（可导出 iCalendar）Occurrences due in [FROM, TO]; --format ics for calendar apps."""
    from scheduler.queries import calendar as query

    app = _app()
    rows = query(app, start, end, _as_of(app, as_of), unit)
    if fmt == "ics":
        from scheduler.ics import calendar_ics
        data = calendar_ics(rows, datetime.now(app.config.general.tz))
    else:
        cols = [*UNIT_COLS, *OB_COLS, Column("opens", "开始日期"),
                Column("due", "截止日期", show=date_cell("due")), Column("status", "状态", show=_status_word)]
        data = render(rows, cols, fmt, provisional_footnotes(rows),
                      csv_keys=LIST_KEYS + ["citation"]).encode("utf-8")
    if output:
        Path(output).write_bytes(data)
        click.echo(f"已写入 {output}（{len(rows)} 项）", err=True)
    else:
        click.echo(data, nl=False)     # bytes go to the binary stream untouched


@main.command()
@click.option("--pack", help="只看该规则包 only this pack")
@format_option()
@config_option
def obligations(pack, fmt) -> None:
    """事项目录及依据 The obligation catalogue with citations."""
    from scheduler.queries import catalogue

    rows = catalogue(_app(), pack)
    cols = [Column("obligation", "编号"), Column("title", "事项"),
            Column("applies_to", "适用", show=lambda r: ",".join(r["applies_to"])),
            Column("schedule_text", "周期"),
            Column("deadline_text", "截止", show=lambda r: r["deadline_text"] + ("†" if r["default_date"] else "")),
            Column("times", "次数", align="right"),
            Column("citation_clause", "依据", show=lambda r: f"{r['citation_source']} {r['citation_clause']}"),
            Column("citation_quote", "原文")]
    notes = ["† 文件未规定日期，由规则包设定默认日期"] if any(r["default_date"] for r in rows) else []
    csv_keys = ["obligation", "pack", "clause", "title", "applies_to", "responsible", "schedule", "deadline",
                "deadline_text", "times", "default_date", "anchor", "citation_source", "citation_clause",
                "citation_quote"]
    if fmt == "csv":
        rows = [{**r, "applies_to": ",".join(r["applies_to"])} for r in rows]
    _out(render(rows, cols, fmt, notes, csv_keys=csv_keys))


# --------------------------------------------------------------------------- reminder service

OUTBOX_STATE_WORDS = {"planned": "待发送", "sending": "发送中", "sent": "已发送",
                      "failed": "失败待重试", "dead": "已放弃", "cancelled": "已取消"}


@main.command()
@click.option("--now", type=DATETIME, default=None,
              help="按此时间运行（默认现在，配置的时区）run as if the clock read DATETIME")
@config_option
def tick(now: datetime | None) -> None:
    """运行一次提醒服务的全部工作后退出（适用于 cron）Run one pass of the reminder service
    (materialise, score, plan, send) and exit."""
    from scheduler.service import run_tick

    app = _app()
    r = run_tick(app, now or app.now())
    click.echo(f"时间 {r.now:%Y-%m-%d %H:%M}")
    if r.recovered:
        click.echo(f"中断后恢复：{r.recovered} 条消息将重新发送")
    click.echo(f"事项：新增 {r.materialised.created}，更新 {r.materialised.updated}")
    click.echo(f"考核：扣分新增 {r.score.findings} 项，撤销 {r.score.withdrawn} 项；自动记分 {r.score.posted} 条")
    for why in r.score.skipped:
        click.echo(f"未能记录扣分：{why}", err=True)
    click.echo(f"提醒：新计划 {r.plan.entries} 项，新消息 {r.plan.created} 条，"
               f"更新 {r.plan.updated} 条，取消 {r.plan.cancelled} 条；扣分通知 {r.plan.deductions} 条")
    if r.dispatch is None:
        click.echo(f"发送：不在发送时段，下一发送时段 {r.next_window:%Y-%m-%d %H:%M}")
    else:
        click.echo(f"发送：成功 {r.dispatch.sent}，失败待重试 {r.dispatch.failed}，"
                   f"已放弃 {r.dispatch.dead}")
    click.echo("发件箱：" + "，".join(f"{OUTBOX_STATE_WORDS[k]} {v}" for k, v in r.outbox.items()))
    if r.plan.unaddressed:
        click.echo(f"无人可提醒（未登记书记或联系方式）：{len(r.plan.unaddressed)} 项："
                   + "，".join(r.plan.unaddressed[:10])
                   + ("……" if len(r.plan.unaddressed) > 10 else ""), err=True)


@main.command()
@click.option("--now", type=DATETIME, default=None,
              help="试运行：假定启动时时钟读数为此时间，之后正常走时 start the clock at DATETIME")
@click.option("--web/--no-web", default=True, show_default=True,
              help="同时运行网页服务（[web] listen）also serve the web pages")
@config_option
def serve(now: datetime | None, web: bool) -> None:
    """运行提醒服务和网页服务（守护进程，SIGTERM/SIGINT 停止）Run the reminder daemon and the
    web server until SIGTERM/SIGINT."""
    import logging
    import sys

    app = _app()

    class ZoneTimeFormatter(logging.Formatter):
        """Log times in the configured zone (Asia/Shanghai), not the server's."""

        def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
            return datetime.fromtimestamp(record.created, app.config.general.tz).strftime("%Y-%m-%d %H:%M:%S%z")

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZoneTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    from scheduler.web.server import run_all
    run_all(app, start=now, web=web)


@main.group("outbox", invoke_without_command=True)
@click.option("--status", type=click.Choice(list(OUTBOX_STATE_WORDS)), default=None,
              help="只看该状态 only rows in this state")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True,
              help="最多显示条数（最新的在前）newest first")
@format_option()
@config_option
@click.pass_context
def outbox_cmd(ctx: click.Context, status: str | None, limit: int, fmt: str) -> None:
    """发件箱：列出提醒消息；`ccal outbox retry` 重新排队 The outbox (list; `retry` re-queues)."""
    if ctx.invoked_subcommand is not None:
        return
    from scheduler.outbox import listing

    with _app().session() as session:
        rows = listing(session, status, limit)
    cols = [Column("id", "编号", align="right"),
            Column("status", "状态", show=lambda r: OUTBOX_STATE_WORDS[r["status"]]),
            Column("channel", "通道"), Column("recipient", "收件人"), Column("address", "地址"),
            Column("window", "发送日"), Column("items", "事项", align="right"),
            Column("attempts", "尝试", align="right"), Column("title", "主题"),
            Column("last_error", "最近错误")]
    keys = ["id", "key", "status", "channel", "stage", "window", "recipient", "address", "title",
            "items", "attempts", "send_at", "next_attempt_at", "sent_at", "last_error"]
    _out(render(rows, cols, fmt, csv_keys=keys))


@outbox_cmd.command("retry")
@click.argument("row_id", type=int, required=False)
@click.option("--dead", is_flag=True, help="所有已放弃的消息 every dead row")
@config_option
def outbox_retry(row_id: int | None, dead: bool) -> None:
    """重新排队：ID 一条失败或已放弃的消息，或 --dead 全部已放弃的 Re-queue one row or
    every dead row."""
    from scheduler.outbox import retry, retry_dead

    if (row_id is None) == (not dead):
        raise click.UsageError("请给出消息编号 ID 或 --dead（二者选一）give ID or --dead")
    app = _app()
    with app.session() as session:
        if dead:
            n = retry_dead(session, app.now())
            click.echo(f"已重新排队 {n} 条已放弃的消息，将在下一发送时段发送")
        else:
            row = retry(session, row_id, app.now())
            click.echo(f"消息 {row.id} 已重新排队，将在下一发送时段发送")


# --------------------------------------------------------------------------- scorecard

def _recorder(by: str | None) -> str:
    """Who records a manual entry: --by, else the login name."""
    if by:
        return by.strip()
    import getpass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def _scorecard(app, name: str | None):
    from scheduler.ledger import scorecard
    return scorecard(app, name)


SCORECARD_OPTION = click.option("--scorecard", "card_name",
                                help="评分体系所在规则包（启用多个时）pack whose scorecard to use")
BY_OPTION = click.option("--by", help="记录人（默认当前登录名）who records it (default: login name)")


@main.group("score", invoke_without_command=True)
@click.option("--year", type=click.IntRange(1900, 2200), help="考核年度 assessment year")
@click.option("--unit", help="只看该单位 only this unit")
@click.option("--format", "fmt", type=click.Choice(FORMATS + ("xlsx",)), default="table", show_default=True,
              help="输出格式 output format (xlsx 需要 --output)")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="写入文件 write to FILE")
@click.option("--no-post", is_flag=True, help="不先登记自动计分 do not post automatic entries first")
@SCORECARD_OPTION
@as_of_option
@config_option
@click.pass_context
def score(ctx: click.Context, year, unit, fmt, output, no_post, card_name, as_of) -> None:
    """年度考核得分与排名 Scores per unit and item with reasons, totals and rankings.

    ccal score --year 2026 [--unit CODE] [--format table|json|csv|xlsx] [--output FILE]"""
    if ctx.invoked_subcommand is not None:
        return
    if year is None:
        raise click.UsageError("请给出考核年度 --year，例如 ccal score --year 2026")
    if fmt == "xlsx" and not output:
        raise click.UsageError("xlsx 格式请用 --output 指定文件名，例如 --output 考核得分.xlsx")
    from scheduler import score_export
    from scheduler.ledger import score as compute
    from scheduler.tables import render_csv, render_json

    app = _app()
    card = _scorecard(app, card_name)
    report = compute(app, year, _as_of(app, as_of), unit=unit, post=not no_post, card=card)
    if fmt == "xlsx":
        score_export.write_xlsx(report, Path(output), unit)
        click.echo(f"已写入 {output}", err=True)
        return
    if fmt == "json":
        text = render_json(score_export.unit_records(report, unit))
    elif fmt == "csv":
        text = render_csv(score_export.csv_rows(report, unit), score_export.CSV_KEYS)
    else:
        text = score_export.render_score_table(report, unit)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"已写入 {output}", err=True)
    else:
        _out(text)


@score.command("post")
@click.option("--year", type=click.IntRange(1900, 2200), required=True, help="考核年度 assessment year")
@SCORECARD_OPTION
@as_of_option
@config_option
def score_post(year, card_name, as_of) -> None:
    """登记自动计分（只登记变化）Post the automatic ledger entries that changed."""
    from scheduler.ledger import post_automatic

    app = _app()
    r = post_automatic(app, year, _as_of(app, as_of), card=_scorecard(app, card_name))
    click.echo(f"{year} 年度自动计分：新增台账记录 {r.posted}，不变 {r.unchanged}")


@score.command("set")
@click.option("--unit", required=True, help="单位代码 unit code")
@click.option("--year", type=click.IntRange(1900, 2200), required=True, help="考核年度 assessment year")
@click.option("--item", required=True, help="考核项目 item (1.1 ... 5.3, 6 特色加分)")
@click.option("--points", type=float, help="得分 points")
@click.option("--reason", required=True, help="评分理由 reason")
@click.option("--clear", is_flag=True, help="撤销人工评分，恢复按规则计分 lift the manual score")
@BY_OPTION
@SCORECARD_OPTION
@config_option
def score_set(unit, year, item, points, reason, clear, by, card_name) -> None:
    """人工评分（新增一条台账记录）The assessor's score for an item, as a new ledger entry."""
    from obligations.scoring import fmt_points
    from scheduler.ledger import set_score

    app = _app()
    if clear and points is not None:
        raise click.UsageError("--clear 与 --points 不能同时使用")
    e = set_score(app, unit, year, item, points, reason, recorded_by=_recorder(by), clear=clear,
                  card=_scorecard(app, card_name))
    what = "已撤销人工评分" if clear else f"已记录人工评分 {fmt_points(e.points)} 分"
    click.echo(f"{what}：{unit} {year} 年度 {item}（台账记录 {e.id}"
               + (f"，更正记录 {e.corrects_id}）" if e.corrects_id else "）"))


@score.command("ledger")
@click.option("--year", type=click.IntRange(1900, 2200), required=True, help="考核年度 assessment year")
@click.option("--unit", help="只看该单位 only this unit")
@click.option("--item", help="只看该项目 only this item")
@SCORECARD_OPTION
@format_option()
@config_option
def score_ledger(year, unit, item, card_name, fmt) -> None:
    """计分台账（每次分数变化一条记录）The ledger: every score change, oldest first."""
    from obligations.scoring import fmt_points
    from scheduler.ledger import ledger_rows

    app = _app()
    rows = ledger_rows(app, year, unit=unit, item=item, card=_scorecard(app, card_name))
    kinds = {"auto": "自动", "manual": "人工", "unset": "撤销人工", "finding": "问题扣分"}
    cols = [Column("id", "编号", align="right"), Column("unit", "单位代码"), Column("item", "项目"),
            Column("kind", "类别", show=lambda r: kinds.get(r["kind"], r["kind"])),
            Column("points", "分数", align="right", show=lambda r: fmt_points(r["points"])),
            Column("reason", "理由"), Column("recorded_by", "记录人"), Column("recorded_at", "记录时间"),
            Column("corrects", "更正"), Column("in_force", "有效", show=lambda r: "是" if r["in_force"] else "")]
    _out(render(rows, cols, fmt, csv_keys=["id", "unit", "unit_name", "year", "item", "item_title", "kind",
                                           "points", "reason", "source_kind", "source_id", "recorded_by",
                                           "recorded_at", "corrects", "in_force"]))


@main.group()
def finding() -> None:
    """检查发现的问题（扣分）Violations found in inspections and their deductions."""


@finding.command("add")
@click.option("--unit", required=True, help="单位代码 unit code")
@click.option("--item", required=True, help="考核项目 item (4.3, 4.4, 3.2 ... 7 负面清单)")
@click.option("--text", "text", required=True, help="发现的问题 what was found")
@click.option("--date", "found_on", type=DATE, help="发现日期（默认今天）date found (default today)")
@click.option("--year", type=click.IntRange(1900, 2200), help="考核年度（默认发现日期所在年）assessment year")
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True,
              help="处数/次数/人数 number of violations (or people, 3.2)")
@click.option("--deduct", type=float, help="扣分（默认按考核标准：每处/次/人的扣分 × 数量）points deducted")
@BY_OPTION
@SCORECARD_OPTION
@config_option
def finding_add(unit, item, text, found_on, year, count, deduct, by, card_name) -> None:
    """登记检查发现的问题并扣分 Record a violation and its deduction (a ledger entry)."""
    from obligations.scoring import fmt_points
    from scheduler.ledger import add_finding

    app = _app()
    r = add_finding(app, unit, item, text, year=year, found_on=found_on, count=count, deduct=deduct,
                    recorded_by=_recorder(by), card=_scorecard(app, card_name))
    f = r.finding
    click.echo(f"已登记问题 {f.id}：{f.unit_code} {f.year} 年度 {f.item}，扣 {fmt_points(f.deduct)} 分"
               f"（台账记录 {r.entry.id}）")


@finding.command("correct")
@click.argument("finding_id", type=int)
@click.option("--reason", required=True, help="更正原因 reason")
@click.option("--deduct", type=float, help="更正后的扣分（0 = 撤销扣分）corrected deduction (0 withdraws it)")
@click.option("--count", type=click.IntRange(min=1), help="更正后的数量 corrected count")
@click.option("--text", "text", help="更正后的问题描述 corrected description")
@BY_OPTION
@SCORECARD_OPTION
@config_option
def finding_correct(finding_id, reason, deduct, count, text, by, card_name) -> None:
    """更正或撤销已登记的问题（新增记录，原记录保留）Correct a finding (as new rows)."""
    from obligations.scoring import fmt_points
    from scheduler.ledger import correct_finding

    app = _app()
    r = correct_finding(app, finding_id, reason, deduct=deduct, count=count, description=text,
                        recorded_by=_recorder(by), card=_scorecard(app, card_name))
    f = r.finding
    what = "已撤销扣分" if f.deduct == 0 else f"扣分更正为 {fmt_points(f.deduct)} 分"
    click.echo(f"问题 {finding_id} {what}（问题记录 {f.id}，台账记录 {r.entry.id}）")


# --------------------------------------------------------------------------- lectures (一会一报)

class MomentType(DateTimeType):
    """A date or a date and time: (datetime, whether a time was given)."""
    name = "DATETIME"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        return super().convert(value, param, ctx), ":" in str(value)


MOMENT = MomentType()
LECTURE_BY = click.option("--by", help="记录人（默认当前登录名）who records it (default: login name)")


def _lecture_lines(v: dict) -> list[str]:
    """A lecture as a clerk reads it (scheduler.lectures.view)."""
    head = f"讲座 {v['id']}《{v['title']}》 {v['unit_name']}（{v['unit']}） {v['starts']}"
    about = "，".join(x for x in (f"主讲人 {v['speaker']}" if v["speaker"] else "",
                                  f"地点 {v['place']}" if v["place"] else "") if x)
    lines = [head + (f"，{about}" if about else "")]
    if v["obligation"]:
        topic = f"涉及{v['categories_text']}" if v["sensitive"] else "一般讲座"
        mark = "*" if v["provisional"] else ""
        lines.append(f"  {topic}：须报党委宣传部审批（{v['obligation']} / {v['period']}），"
                     f"截止 {v['deadline'].isoformat()}{mark}")
    else:
        lines.append("  无需审批，仅报备（一会一报）")
    if v["filed_at"]:
        word = "报审" if v["obligation"] else "报备"
        lines.append(f"  {word} {v['filed_at']:%Y-%m-%d %H:%M}" + ("（逾期）" if v["late"] else "（按时）"))
    lines.append(f"  状态：{v['status_text']}" + (f"（{v['decided_at']:%Y-%m-%d %H:%M}）"
                                                  if v["decided_at"] and v["status"] in ("approved", "rejected") else "")
                 + (f"，举办于 {v['held_at']}" if v["held_at"] else ""))
    if v["violation"]:
        lines.append(f"  违规：{v['violation']}（{v['violation_text']}），计入考核扣分")
    if v["provisional"]:
        lines.append("  " + HOLIDAYS_FOOTNOTE)
    return lines


def _echo_lecture(v: dict, first: str | None = None) -> None:
    if first:
        click.echo(first)
    for line in _lecture_lines(v):
        click.echo(line)


@main.group()
def lecture() -> None:
    """讲座、报告会、研讨会、论坛（一会一报、审批）Lectures: reporting and pre-approval."""


@lecture.command("categories")
@config_option
def lecture_categories() -> None:
    """敏感议题类别（第12条）The sensitive categories of seed 001 clause 12."""
    from obligations.lectures import CLAUSE_12, SENSITIVE_CATEGORIES

    cols = [Column("key", "代码"), Column("short", "简称"), Column("label", "条文")]
    _out(render_table([{"key": c.key, "short": c.short, "label": c.label} for c in SENSITIVE_CATEGORIES], cols,
                      [f"依据：{CLAUSE_12.source} {CLAUSE_12.clause}"]))


@lecture.command("register")
@click.option("--unit", required=True, help="主办单位代码 organising unit")
@click.option("--title", required=True, help="名称 title")
@click.option("--date", "starts", type=MOMENT, required=True, help="举办时间 'YYYY-MM-DD HH:MM' 或 YYYY-MM-DD")
@click.option("--speaker", default="", help="主讲人 speaker")
@click.option("--place", default="", help="地点 place")
@click.option("--sensitive", multiple=True,
              help="敏感议题类别（逗号分隔或多次；ccal lecture categories）sensitive categories")
@click.option("--planned", is_flag=True, help="只登记计划，尚未报审（届时提醒主办单位）not applied for yet")
@click.option("--filed", type=DATETIME, help="报审时间（默认现在）when it was applied for (default now)")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="审批表等材料 application form")
@click.option("--note", default="", help="备注 note")
@LECTURE_BY
@config_option
def lecture_register(unit, title, starts, speaker, place, sensitive, planned, filed, evidence, note, by) -> None:
    """登记讲座并报审（一会一报）Register a lecture; unless --planned, this is its application."""
    from scheduler.lectures import register

    moment, known = starts
    v = register(_app(), unit, title=title, starts=moment, time_known=known, speaker=speaker, place=place,
                 categories=sensitive, planned=planned, filed_at=filed, evidence=[Path(e) for e in evidence],
                 note=note, recorded_by=_recorder(by))
    _echo_lecture(v, f"已登记讲座 {v['id']}")


@lecture.command("apply")
@click.argument("lecture_id", type=int)
@click.option("--at", type=DATETIME, help="报审时间（默认现在）when it was applied for (default now)")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="审批表等材料 application form")
@click.option("--note", default="", help="备注 note")
@LECTURE_BY
@config_option
def lecture_apply(lecture_id, at, evidence, note, by) -> None:
    """登记报审（与 ccal submit … --period E<编号> 相同）File the application of a planned lecture."""
    from scheduler.lectures import apply

    v = apply(_app(), lecture_id, at=at, evidence=[Path(e) for e in evidence], note=note,
              recorded_by=_recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已报审")


def _decide(lecture_id: int, approve: bool, at, note: str, by) -> None:
    from scheduler.lectures import decide

    v = decide(_app(), lecture_id, approve, at=at, note=note, recorded_by=_recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} {'已批准' if approve else '不予批准'}")


@lecture.command("approve")
@click.argument("lecture_id", type=int)
@click.option("--at", type=DATETIME, help="批复时间（默认现在）when it was approved (default now)")
@click.option("--note", default="", help="批复意见 note")
@LECTURE_BY
@config_option
def lecture_approve(lecture_id, at, note, by) -> None:
    """党委宣传部批准 Approve the current application."""
    _decide(lecture_id, True, at, note, by)


@lecture.command("reject")
@click.argument("lecture_id", type=int)
@click.option("--at", type=DATETIME, help="批复时间（默认现在）when it was rejected (default now)")
@click.option("--note", default="", help="不予批准的理由 reason")
@LECTURE_BY
@config_option
def lecture_reject(lecture_id, at, note, by) -> None:
    """党委宣传部不予批准 Reject the current application."""
    _decide(lecture_id, False, at, note, by)


@lecture.command("change")
@click.argument("lecture_id", type=int)
@click.option("--reason", required=True, help="变更原因 reason")
@click.option("--title", help="新名称 new title")
@click.option("--date", "starts", type=MOMENT, help="新时间 new date/time")
@click.option("--speaker", help="新主讲人 new speaker")
@click.option("--place", help="新地点 new place")
@click.option("--sensitive", multiple=True, help="新的敏感议题类别（替换原类别）new categories")
@click.option("--not-sensitive", is_flag=True, help="不涉及敏感议题 no sensitive category")
@click.option("--planned", is_flag=True, help="变更尚未报审 the change is not applied for yet")
@click.option("--filed", type=DATETIME, help="重新报审时间（默认现在）when it was applied for again")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="审批表等材料 application form")
@LECTURE_BY
@config_option
def lecture_change(lecture_id, reason, title, starts, speaker, place, sensitive, not_sensitive, planned, filed,
                   evidence, by) -> None:
    """登记变更：原审批失效，需重新报批 Record a change; the approval no longer counts."""
    from scheduler.lectures import change

    if sensitive and not_sensitive:
        raise click.UsageError("--sensitive 与 --not-sensitive 不能同时使用")
    categories = () if not_sensitive else (sensitive or None)
    moment, known = starts if starts else (None, None)
    v = change(_app(), lecture_id, reason=reason, title=title, speaker=speaker, place=place, starts=moment,
               time_known=known, categories=categories, planned=planned, filed_at=filed,
               evidence=[Path(e) for e in evidence], recorded_by=_recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已变更（第 {v['version']} 版），原审批失效")


@lecture.command("held")
@click.argument("lecture_id", type=int)
@click.option("--at", type=MOMENT, help="实际举办时间（默认按登记时间）when it took place")
@click.option("--note", default="", help="备注 note")
@LECTURE_BY
@config_option
def lecture_held(lecture_id, at, note, by) -> None:
    """登记已举办 Record that the lecture took place."""
    from scheduler.lectures import held

    moment, known = at if at else (None, True)
    v = held(_app(), lecture_id, at=moment, time_known=known, note=note, recorded_by=_recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已登记举办")


@lecture.command("cancel")
@click.argument("lecture_id", type=int)
@click.option("--reason", required=True, help="取消原因 reason")
@LECTURE_BY
@config_option
def lecture_cancel(lecture_id, reason, by) -> None:
    """登记取消 Record that the lecture will not take place."""
    from scheduler.lectures import cancel

    v = cancel(_app(), lecture_id, reason, recorded_by=_recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已取消")


@lecture.command("show")
@click.argument("lecture_id", type=int)
@format_option(("table", "json"))
@config_option
def lecture_show(lecture_id, fmt) -> None:
    """讲座详情与全部记录 A lecture and its whole record."""
    from scheduler.lectures import history, show
    from scheduler.tables import render_json

    app = _app()
    v, rows = show(app, lecture_id), history(app, lecture_id)
    if fmt == "json":
        _out(render_json([{**v, "history": rows}]))
        return
    _echo_lecture(v)
    click.echo("")
    _out(render_table(rows, [Column("at", "时间"), Column("what", "事项"), Column("detail", "内容"),
                             Column("by", "记录人"), Column("recorded_at", "记录时间")]))


LECTURE_STATUSES = ("planned", "pending", "approved", "rejected", "reported", "held", "cancelled", "violation")


@lecture.command("list")
@click.option("--unit", help="只看该单位 only this unit")
@click.option("--year", type=click.IntRange(1900, 2200), help="举办年度 year of the event")
@click.option("--status", type=click.Choice(LECTURE_STATUSES), help="只看该状态（violation：有违规）")
@format_option()
@config_option
def lecture_list(unit, year, status, fmt) -> None:
    """讲座一览 Lectures with their approval deadline, status and violations."""
    from scheduler.lectures import listing

    rows = listing(_app(), unit=unit, year=year, status=status)
    cols = [Column("id", "编号", align="right"), Column("unit_name", "主办单位"), Column("title", "名称"),
            Column("starts", "时间"), Column("categories_text", "敏感议题"),
            Column("deadline", "报批截止", show=date_cell("deadline")),
            Column("filed_at", "报审", show=lambda r: (f"{r['filed_at']:%Y-%m-%d}" + ("（逾期）" if r["late"] else ""))
                   if r["filed_at"] else ""),
            Column("status_text", "状态"), Column("violation", "违规")]
    keys = ["id", "unit", "unit_name", "title", "speaker", "place", "date", "time", "categories", "obligation",
            "period", "deadline", "provisional", "filed_at", "late", "status", "decided_at", "held_at", "violation"]
    if fmt == "csv":
        rows = [{**r, "categories": ",".join(r["categories"])} for r in rows]
    _out(render(rows, cols, fmt, provisional_footnotes(rows, HOLIDAYS_FOOTNOTE), csv_keys=keys))


# --------------------------------------------------------------------------- supervision orders (督办单)

ORDER_STATE_WORDS = {**STATE_WORDS, "done": "已整改", "late": "逾期整改", "waived": "已撤销", "open": "整改中"}


def _order_line(o: dict) -> str:
    word = ORDER_STATE_WORDS.get(o["status"], o["status"])
    extra = f"，逾期 {o['days_overdue']} 天" if o["status"] in ("overdue", "late") else ""
    return (f"督办单 {o['id']}（{o['period']}）{o['unit_name']}（{o['unit']}）：{o['text']}\n"
            f"  下达 {o['issued_on'].isoformat()}，整改期限 {o['deadline'].isoformat()}，{word}{extra}"
            + (f"\n  逾期计入考核项目 {o['item']}" if o["item"] else ""))


@main.group("order")
def order_cmd() -> None:
    """督办单（限期整改）Supervision orders with a rectification deadline."""


@order_cmd.command("issue")
@click.option("--unit", required=True, help="责任单位代码 unit code")
@click.option("--deadline", type=DATE, required=True, help="整改期限（含当天）rectification deadline")
@click.option("--text", "text", required=True, help="督办事项与整改要求 what to rectify")
@click.option("--date", "issued_on", type=DATE, help="下达日期（默认今天）date issued (default today)")
@click.option("--key", help="督办事项编号（启用多个时）ad_hoc obligation key")
@click.option("--item", help="逾期时扣分的考核项目（如 4.3）scorecard item an overdue order deducts from")
@click.option("--deduct", type=float, help="逾期扣分（默认按该项目的扣分标准）points deducted when overdue")
@SCORECARD_OPTION
@LECTURE_BY
@config_option
def order_issue(unit, deadline, text, issued_on, key, item, deduct, card_name, by) -> None:
    """下达督办单 Issue a supervision order (a one-off obligation with a deadline)."""
    from scheduler.orders import issue

    o = issue(_app(), unit, deadline, text, key=key, issued_on=issued_on, item=item, deduct=deduct,
              scorecard=card_name, recorded_by=_recorder(by))
    click.echo(f"已下达督办单 {o['id']}：{o['obligation']} / {o['unit']} / {o['period']}")
    click.echo(_order_line(o))


@order_cmd.command("close")
@click.argument("order_id", type=int)
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), required=True,
              help="整改材料（可多次）rectification evidence")
@click.option("--at", type=DATETIME, help="整改完成时间（默认现在）when it was done (default now)")
@click.option("--note", default="", help="备注 note")
@LECTURE_BY
@config_option
def order_close(order_id, evidence, at, note, by) -> None:
    """提交整改材料，办结督办单（与 ccal submit … --period O<编号> 相同）Close an order."""
    from scheduler.orders import close

    r = close(_app(), order_id, [Path(e) for e in evidence], at=at, note=note, recorded_by=_recorder(by))
    s, occ = r.submission, r.occurrence
    click.echo(f"督办单 {order_id} 已办结（提交记录 {s.id}，{s.submitted_at:%Y-%m-%d %H:%M}，"
               f"整改期限 {occ.due.isoformat()}，{'逾期整改' if s.late else '按期整改'}）")
    for ev in r.evidence:
        click.echo(f"整改材料 {ev.original_name} -> {ev.stored_path}")


@order_cmd.command("list")
@click.option("--unit", help="只看该单位 only this unit")
@click.option("--status", type=click.Choice(("open", "overdue", "done", "late", "waived")), help="只看该状态")
@as_of_option
@format_option()
@config_option
def order_list(unit, status, as_of, fmt) -> None:
    """督办单一览 Orders with their deadline and status (overdue orders are posted to the score)."""
    from scheduler.orders import listing, record_overdue

    app = _app()
    day = _as_of(app, as_of)
    if as_of is None:
        record_overdue(app, day)
    rows = listing(app, day, unit=unit, status=status)
    cols = [Column("id", "编号", align="right"), Column("unit_name", "责任单位"), Column("text", "督办事项"),
            Column("issued_on", "下达"), Column("deadline", "整改期限"),
            Column("status", "状态", show=lambda r: ORDER_STATE_WORDS.get(r["status"], r["status"])),
            Column("days_overdue", "逾期天数", align="right", show=lambda r: str(r["days_overdue"] or "")),
            Column("item", "考核项目")]
    keys = ["id", "unit", "unit_name", "obligation", "period", "text", "issued_on", "deadline", "status",
            "days_overdue", "days_left", "closed_at", "item", "scorecard"]
    _out(render(rows, cols, fmt, csv_keys=keys))


@order_cmd.command("show")
@click.argument("order_id", type=int)
@as_of_option
@format_option(("table", "json"))
@config_option
def order_show(order_id, as_of, fmt) -> None:
    """督办单详情 One order."""
    from scheduler.orders import show
    from scheduler.tables import render_json

    app = _app()
    o = show(app, order_id, _as_of(app, as_of))
    if fmt == "json":
        _out(render_json([o]))
    else:
        click.echo(_order_line(o))


# --------------------------------------------------------------------------- the quarterly joint meeting

@main.group()
def meeting() -> None:
    """季度联席会议日期（会前报告据此截止）The quarterly joint meeting's date."""


@meeting.command("set")
@click.option("--quarter", required=True, help="季度 quarter, e.g. 2026-Q1")
@click.option("--date", "on", type=DATE, required=True, help="会议日期 meeting date")
@click.option("--key", help="会议事项编号（启用多个时）anchor obligation key")
@click.option("--title", default="", help="会议名称 title")
@config_option
def meeting_set(quarter, on, key, title) -> None:
    """登记某季度联席会议日期：会前报告、会后研判报告的截止日期随之确定 Record a quarter's
    meeting date (same as ccal event add <meeting key> --unit <propaganda unit> --period Q)."""
    from scheduler.materialise import anchor_keys
    from scheduler.submissions import record_event

    app = _app()
    keys = [app.obligation(key).key] if key else sorted(anchor_keys(app))
    if not keys:
        raise CcalError("已启用的规则包中没有会议锚点事项（例如 jincheng-2020.meeting）")
    if len(keys) > 1:
        raise CcalError("有多个会议锚点事项，请用 --key 指定：" + ", ".join(keys))
    r = record_event(app, keys[0], app.propaganda_unit, on, period=quarter, title=title)
    click.echo(f"已登记 {quarter} 联席会议日期 {on.isoformat()}（{keys[0]}，记录 {r.event.id}）")
    seen = set()
    for occ in r.moved:
        if (occ.obligation_key, occ.due) in seen:
            continue
        seen.add((occ.obligation_key, occ.due))
        title_of = app.obligations[occ.obligation_key].title
        click.echo(f"  {title_of}（{occ.obligation_key}）截止 {occ.due.isoformat()}{'*' if occ.provisional else ''}")


# The web's commands (user, link, web): scheduler/commands/web.py
from scheduler.commands.web import register as _register_web  # noqa: E402
_register_web(main, config_option, _app)


if __name__ == "__main__":
    main()
