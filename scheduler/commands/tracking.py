"""The daily queries: overdue, upcoming, a unit's year, the calendar and the catalogue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from cli import (
    DATE,
    UNIT,
    as_of_day,
    as_of_option,
    config_option,
    emit,
    format_option,
    get_app,
    out,
)
from scheduler.tables import (
    FORMATS,
    STATE_WORDS,
    Column,
    date_cell,
    fit_text,
    provisional_footnotes,
    render,
    render_table,
)

# --------------------------------------------------------------------------- queries

def _warn_if_no_units(app, rows) -> None:
    """No false all-clear: an empty answer (rows, or their number) from a database without
    units says why."""
    if not rows:
        from scheduler.records import NO_UNITS_NOTE, has_units
        if not has_units(app):
            click.echo(NO_UNITS_NOTE, err=True)


def _status_word(r) -> str:
    return STATE_WORDS.get(r["status"], r["status"])


UNIT_COLS = [Column("unit", "单位代码"), Column("unit_name", "单位", drop=5)]
# Narrow terminals leave columns out by Column.drop (higher first): unit name, then the title,
# then the lesser key columns each table names; unit code, obligation code, period and due date stay.
OB_COLS = [Column("obligation", "编号"), Column("title", "事项", drop=3), Column("period", "期间")]
LIST_KEYS = ["unit", "unit_name", "obligation", "title", "period", "opens", "due", "provisional",
             "status", "done", "required"]


@click.command()
@click.option("--unit", type=UNIT, help="只看该单位")
@as_of_option
@format_option()
@config_option
def overdue(unit, as_of, fmt) -> None:
    """已逾期事项。"""
    from scheduler.queries import overdue_rows as query

    app = get_app()
    rows = query(app, as_of_day(app, as_of), unit)      # a stream: JSON is printed as it comes
    cols = [*UNIT_COLS, *OB_COLS, Column("due", "截止日期", show=date_cell("due")),
            Column("days_overdue", "逾期天数", align="right", drop=1),
            Column("done", "进度", show=lambda r: f"{r['done']}/{r['required']}", drop=1),
            Column("status", "状态", show=_status_word, drop=2)]    # always 已逾期 here
    n = emit(rows, cols, fmt, provisional_footnotes, csv_keys=LIST_KEYS + ["days_overdue"], title="已逾期")
    _warn_if_no_units(app, n)


@click.command()
@click.option("--days", type=click.IntRange(min=0, max=3660), default=30, show_default=True, help="未来天数")
@click.option("--unit", type=UNIT, help="只看该单位")
@as_of_option
@format_option()
@config_option
def upcoming(days, unit, as_of, fmt) -> None:
    """未来 DAYS 天内到期的事项。"""
    from scheduler.queries import upcoming as query

    app = get_app()
    rows = query(app, as_of_day(app, as_of), days, unit)
    cols = [*UNIT_COLS, *OB_COLS, Column("opens", "开始日期", drop=4),
            Column("due", "截止日期", show=date_cell("due")),
            Column("days_left", "剩余天数", align="right", drop=1),
            Column("done", "进度", show=lambda r: f"{r['done']}/{r['required']}", drop=2),
            Column("status", "状态", show=_status_word, drop=1)]
    emit(rows, cols, fmt, provisional_footnotes(rows), csv_keys=LIST_KEYS + ["days_left"], title="即将到期")
    _warn_if_no_units(app, rows)


@click.command()
@click.argument("code", type=UNIT)
@click.option("--year", type=click.IntRange(1900, 2200), help="年度（默认 as-of 所在年）")
@as_of_option
@format_option()
@config_option
def status(code, year, as_of, fmt) -> None:
    """单位 CODE 的年度完成情况：已完成、逾期完成、进行中、已逾期、已豁免。"""
    from scheduler.queries import unit_year

    app = get_app()
    day = as_of_day(app, as_of)
    result = unit_year(app, code, year or day.year, day)
    rows = result.rows
    cols = [*OB_COLS, Column("due", "截止日期", show=date_cell("due")),
            Column("status", "状态", show=_status_word),
            Column("progress", "进度", drop=4)]   # never cut; repeats 状态 and the dates, so left out first
    if fmt != "table":
        emit(rows, cols, fmt, csv_keys=LIST_KEYS + ["days_overdue", "days_left", "progress"], title=f"{code} 完成情况")
        return
    click.echo(fit_text(f"{result.unit_name}（{result.unit}）{result.year} 年度，截至 {day.isoformat()}"))
    t = result.totals
    summary = "合计：" + "，".join(f"{STATE_WORDS[s]} {t[s]}" for s in
                                   ("done", "late", "open", "overdue", "waived", "upcoming"))
    out(render_table(rows, cols, [summary, *provisional_footnotes(rows)]))


@click.command("calendar")
@click.option("--from", "start", type=DATE, required=True, help="起始日期")
@click.option("--to", "end", type=DATE, required=True, help="结束日期")
@click.option("--unit", type=UNIT, help="只看该单位")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="写入文件")
@as_of_option
@format_option(FORMATS + ("xlsx", "ics"))
@config_option
def calendar_cmd(start, end, unit, output, as_of, fmt) -> None:
    """日程：FROM 至 TO 之间到期的事项；--format ics 导出到日历软件。"""
    from scheduler.queries import calendar as query

    app = get_app()
    rows = query(app, start, end, as_of_day(app, as_of), unit)
    if fmt == "xlsx":
        if not output:
            raise click.UsageError("xlsx 格式请用 --output 指定文件名，例如 --output 日程.xlsx")
        from scheduler.xlsx_tables import write_table_xlsx
        write_table_xlsx(rows, LIST_KEYS + ["citation"], Path(output), title="日程",
                         notes=provisional_footnotes(rows))
        click.echo(f"已写入 {output}（{len(rows)} 项）", err=True)
        return
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


@click.command()
@click.option("--pack", help="只看该规则包")
@format_option()
@config_option
def obligations(pack, fmt) -> None:
    """事项目录及依据。"""
    from scheduler.queries import catalogue

    rows = catalogue(get_app(), pack)
    cols = [Column("obligation", "编号"), Column("title", "事项"),
            Column("applies_to_text", "适用"),
            Column("schedule_text", "周期"),
            Column("deadline_text", "截止", show=lambda r: r["deadline_text"] + ("†" if r["default_date"] else "")),
            Column("times", "次数", align="right"),
            Column("citation", "依据"),
            Column("citation_quote", "原文")]
    notes = ["† 文件未规定日期，由规则包设定默认日期"] if any(r["default_date"] for r in rows) else []
    # Spreadsheets (Excel) in Chinese: the document by title and 文号, kinds, roles and
    # schedules in words; the source file name last, for tracing. JSON keeps the codes.
    csv_keys = ["obligation", "pack", "clause", "title", "applies_to_text", "responsible", "schedule_text",
                "deadline_text", "times", "default_date", "anchor", "citation", "citation_quote",
                "citation_source"]
    from scheduler.models import ROLES
    emit(rows, cols, fmt, notes, csv_keys=csv_keys, words={"responsible": ROLES}, title="事项目录")
