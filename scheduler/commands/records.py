"""Recording what was done: submissions, waivers, events and the quarterly meeting."""

from __future__ import annotations

from pathlib import Path

import click

from cli import (
    DATE,
    DATETIME,
    KEY,
    PERIOD,
    UNIT,
    CcalError,
    config_option,
    emit,
    format_option,
    get_app,
)
from scheduler.tables import HOLIDAYS_FOOTNOTE, Column

# --------------------------------------------------------------------------- recording

@click.command()
@click.argument("key", type=KEY, required=False)
@click.option("--unit", type=UNIT, help="单位代码")
@click.option("--period", type=PERIOD, help="期间，如 2026-06 或 2026年6月、2026-Q2 或 2026年第二季度、2026上半年、2026秋季、2026年、E12")
@click.option("--at", type=DATETIME, help="完成时间（默认现在）")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="证明材料文件（可多次）")
@click.option("--note", default="", help="备注")
@click.option("--corrects", type=int, help="更正的提交记录编号")
@click.option("--from-csv", "from_csv", type=click.Path(dir_okay=False),
              help="从 CSV 批量登记（列：事项编号,单位代码,期间,完成时间,备注）")
@config_option
def submit(key, unit, period, at, evidence, note, corrects, from_csv) -> None:
    """登记完成情况（--from-csv：批量登记一个文件）。"""
    from scheduler.submissions import submit as do_submit

    if from_csv:
        if key or unit or period or evidence or corrects:
            raise CcalError("--from-csv 不能与 KEY/--unit/--period/--evidence/--corrects 同用")
        return _submit_csv(from_csv)
    for name, value in (("key", key), ("unit", unit), ("period", period)):
        if not value:   # click's own error (exit 2), as when they were required
            ctx = click.get_current_context()
            param = next(p for p in ctx.command.params if p.name == name)
            raise click.MissingParameter(ctx=ctx, param=param, param_hint="'KEY'" if name == "key" else None)

    r = do_submit(get_app(), key, unit, period, at=at, evidence=[Path(e) for e in evidence],
                  note=note, corrects=corrects)
    s, occ = r.submission, r.occurrence
    state = "逾期完成" if s.late else "按时"
    click.echo(f"已登记 提交记录 {s.id}：{key} / {unit} / {period}，{s.submitted_at:%Y-%m-%d %H:%M}，"
               f"截止 {occ.due.isoformat()}，{state}")
    if corrects:
        click.echo(f"更正了提交记录 {corrects}")
    from scheduler.records import completes_nothing_new
    warning = completes_nothing_new(get_app(), s, occ)
    if warning:
        click.echo(warning, err=True)
    for ev in r.evidence:
        click.echo(f"证明材料 {ev.original_name} -> {ev.stored_path}")


def _submit_csv(path: str) -> None:
    from scheduler.bulk import BulkInputError, submit_csv

    try:
        result = submit_csv(get_app(), path)
    except BulkInputError as e:
        for err in e.errors:
            click.echo(str(err), err=True)
        raise CcalError(f"{len(e.errors)} 处错误，未登记任何记录") from None
    click.echo(result.summary())
    for err in result.errors:
        click.echo(str(err), err=True)
    if result.errors:
        raise CcalError(f"{len({e.line for e in result.errors})} 行有误未登记（其余已登记）")


@click.group()
def submission() -> None:
    """提交记录（一览、撤回）。"""


@submission.command("withdraw")
@click.argument("submission_id", type=int)
@click.option("--reason", required=True, help="撤回原因")
@config_option
def submission_withdraw(submission_id: int, reason: str) -> None:
    """撤回提交记录（新增一条撤回记录，原记录保留）。"""
    from scheduler.submissions import withdraw

    row = withdraw(get_app(packs=False), submission_id, reason)
    click.echo(f"已撤回提交记录 {submission_id}（撤回记录 {row.id}）")


def record_filters(f):
    """--unit, --key, --period, --year: the filters of the record lists."""
    for opt in reversed((
        click.option("--unit", type=UNIT, help="只看该单位"),
        click.option("--key", type=KEY, help="只看该事项"),
        click.option("--period", type=PERIOD, help="只看该期间"),
        click.option("--year", type=click.IntRange(1900, 2200), help="只看该年度"),
    )):
        f = opt(f)
    return f


@submission.command("list")
@record_filters
@format_option()
@config_option
def submission_list(unit, key, period, year, fmt) -> None:
    """提交记录一览（含编号，供撤回、更正使用）。"""
    from scheduler.records import SUBMISSION_STATE_WORDS, submission_rows

    rows = submission_rows(get_app(packs=False), unit=unit, key=key, period=period, year=year)
    cols = [Column("id", "编号", align="right"), Column("unit", "单位代码"), Column("obligation", "事项编号"),
            Column("title", "事项"), Column("period", "期间"), Column("submitted_at", "完成时间"),
            Column("late", "逾期", show=lambda r: "逾期" if r["late"] else "", drop=1),
            Column("state", "状态", show=lambda r: SUBMISSION_STATE_WORDS[r["state"]]
                   + (f"（{r['replaced_by']}）" if r["replaced_by"] else "")),
            Column("evidence", "材料", align="right", drop=2), Column("note", "备注")]   # drop: narrow terminals
    emit(rows, cols, fmt, csv_keys=["id", "unit", "unit_name", "obligation", "title", "period", "due",
                                          "submitted_at", "late", "state", "corrects", "replaced_by", "evidence",
                                          "note", "recorded_by", "recorded_at"],
         words={"state": SUBMISSION_STATE_WORDS}, title="提交记录")


@click.command()
@click.argument("key", type=KEY)
@click.option("--unit", type=UNIT, required=True, help="单位代码")
@click.option("--period", type=PERIOD, required=True, help="期间，如 2026-H1 或 2026上半年")
@click.option("--reason", required=True, help="豁免原因")
@config_option
def waive(key, unit, period, reason) -> None:
    """豁免某期事项。"""
    from scheduler.submissions import waive as do_waive

    w, occ = do_waive(get_app(), key, unit, period, reason)
    click.echo(f"已豁免 {key} / {unit} / {period}（豁免记录 {w.id}）")


@click.group()
def waiver() -> None:
    """豁免记录（一览、撤销）。"""


@waiver.command("revoke")
@click.argument("waiver_id", type=int)
@click.option("--reason", required=True, help="撤销原因")
@config_option
def waiver_revoke(waiver_id: int, reason: str) -> None:
    """撤销豁免（新增一条记录，原记录保留）。"""
    from scheduler.submissions import revoke_waiver

    row = revoke_waiver(get_app(packs=False), waiver_id, reason)
    click.echo(f"已撤销豁免记录 {waiver_id}（记录 {row.id}）")


@waiver.command("list")
@record_filters
@format_option()
@config_option
def waiver_list(unit, key, period, year, fmt) -> None:
    """豁免记录一览（含编号，供撤销使用）。"""
    from scheduler.records import WAIVER_STATE_WORDS, waiver_rows

    rows = waiver_rows(get_app(packs=False), unit=unit, key=key, period=period, year=year)
    cols = [Column("id", "编号", align="right"), Column("unit", "单位代码"), Column("obligation", "事项编号"),
            Column("title", "事项"), Column("period", "期间"), Column("reason", "原因"),
            Column("state", "状态", show=lambda r: WAIVER_STATE_WORDS[r["state"]]),
            Column("recorded_at", "记录时间")]
    emit(rows, cols, fmt, csv_keys=["id", "unit", "unit_name", "obligation", "title", "period", "reason",
                                          "state", "revokes", "revoked_by", "recorded_by", "recorded_at"],
         words={"state": WAIVER_STATE_WORDS}, title="豁免记录")


@click.group()
def event() -> None:
    """活动与会议。"""


@event.command("add")
@click.argument("key", type=KEY)
@click.option("--unit", type=UNIT, required=True, help="单位代码")
@click.option("--date", "on", type=DATE, required=True, help="活动/会议日期")
@click.option("--period", type=PERIOD, help="会议所属期间（锚点会议），如 2026-Q1 或 2026年第一季度")
@click.option("--title", default="", help="名称")
@config_option
def event_add(key, unit, on, period, title) -> None:
    """登记活动或会议日期（讲座请用 ccal lecture register）。"""
    from scheduler.lectures import refuse_bare_event
    from scheduler.submissions import record_event

    app = get_app()
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



@event.command("list")
@click.option("--unit", type=UNIT, help="只看该单位")
@click.option("--key", type=KEY, help="只看该事项")
@click.option("--year", type=click.IntRange(1900, 2200), help="只看该年度")
@format_option()
@config_option
def event_list(unit, key, year, fmt) -> None:
    """已登记的活动与会议。"""
    from scheduler.records import event_rows

    rows = event_rows(get_app(packs=False), unit=unit, key=key, year=year)
    cols = [Column("id", "编号", align="right"), Column("date", "日期"), Column("unit", "单位代码"),
            Column("obligation", "事项编号"), Column("obligation_title", "事项"), Column("period", "期间"),
            Column("title", "名称")]
    emit(rows, cols, fmt, csv_keys=["id", "date", "unit", "unit_name", "obligation", "obligation_title",
                                          "period", "title", "recorded_at"], title="活动与会议")


# --------------------------------------------------------------------------- the quarterly joint meeting

@click.group()
def meeting() -> None:
    """季度联席会议日期（会前报告据此截止）。"""


@meeting.command("set")
@click.option("--quarter", type=PERIOD, required=True, help="季度，如 2026-Q1 或 2026年第一季度")
@click.option("--date", "on", type=DATE, required=True, help="会议日期")
@click.option("--key", type=KEY, help="会议事项编号（启用多个时）")
@click.option("--title", default="", help="会议名称")
@config_option
def meeting_set(quarter, on, key, title) -> None:
    """登记某季度联席会议日期：会前报告、会后研判报告的截止日期随之确定（与 ccal event add <会议事项> --unit <宣传部> --period <季度> 相同）。"""
    from scheduler.materialise import anchor_keys
    from scheduler.submissions import record_event

    app = get_app()
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

