"""Lectures (一会一报): registration, application, decision, changes, listing."""

from __future__ import annotations

from pathlib import Path

import click

from cli import (
    BY_OPTION,
    DATETIME,
    UNIT,
    DateTimeType,
    config_option,
    emit,
    format_option,
    get_app,
    out,
    recorder,
)
from scheduler.tables import (
    HOLIDAYS_FOOTNOTE,
    Column,
    date_cell,
    provisional_footnotes,
    render_table,
)

# --------------------------------------------------------------------------- lectures (一会一报)

class MomentType(DateTimeType):
    """A date or a date and time: (datetime, whether a time was given)."""
    name = "DATETIME"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        return super().convert(value, param, ctx), ":" in str(value)


MOMENT = MomentType()


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


@click.group()
def lecture() -> None:
    """讲座、报告会、研讨会、论坛（一会一报、审批）。"""


@lecture.command("categories")
@config_option
def lecture_categories() -> None:
    """敏感议题类别（第12条）。"""
    from obligations.citations import cite
    from obligations.lectures import CLAUSE_12, SENSITIVE_CATEGORIES

    cols = [Column("key", "代码"), Column("short", "简称"), Column("label", "条文")]
    out(render_table([{"key": c.key, "short": c.short, "label": c.label} for c in SENSITIVE_CATEGORIES], cols,
                      [f"依据：{cite(CLAUSE_12)}"]))


@lecture.command("register")
@click.option("--unit", type=UNIT, required=True, help="主办单位代码")
@click.option("--title", required=True, help="名称")
@click.option("--date", "starts", type=MOMENT, required=True, help="举办时间 'YYYY-MM-DD HH:MM' 或 YYYY-MM-DD")
@click.option("--speaker", default="", help="主讲人")
@click.option("--place", default="", help="地点")
@click.option("--sensitive", multiple=True,
              help="敏感议题类别（逗号分隔或多次；ccal lecture categories）")
@click.option("--planned", is_flag=True, help="只登记计划，尚未报审（届时提醒主办单位）")
@click.option("--filed", type=DATETIME, help="报审时间（默认现在）")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="审批表等材料")
@click.option("--note", default="", help="备注")
@BY_OPTION
@config_option
def lecture_register(unit, title, starts, speaker, place, sensitive, planned, filed, evidence, note, by) -> None:
    """登记讲座并报审（一会一报）；加 --planned 时只登记计划，尚未报审。"""
    from scheduler.lectures import register

    moment, known = starts
    v = register(get_app(), unit, title=title, starts=moment, time_known=known, speaker=speaker, place=place,
                 categories=sensitive, planned=planned, filed_at=filed, evidence=[Path(e) for e in evidence],
                 note=note, recorded_by=recorder(by))
    _echo_lecture(v, f"已登记讲座 {v['id']}")


@lecture.command("apply")
@click.argument("lecture_id", type=int)
@click.option("--at", type=DATETIME, help="报审时间（默认现在）")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="审批表等材料")
@click.option("--note", default="", help="备注")
@BY_OPTION
@config_option
def lecture_apply(lecture_id, at, evidence, note, by) -> None:
    """为已登记计划的讲座登记报审（与 ccal submit … --period E<编号> 相同）。"""
    from scheduler.lectures import apply

    v = apply(get_app(), lecture_id, at=at, evidence=[Path(e) for e in evidence], note=note,
              recorded_by=recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已报审")


def _decide(lecture_id: int, approve: bool, at, note: str, by) -> None:
    from scheduler.lectures import decide

    v = decide(get_app(), lecture_id, approve, at=at, note=note, recorded_by=recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} {'已批准' if approve else '不予批准'}")


@lecture.command("approve")
@click.argument("lecture_id", type=int)
@click.option("--at", type=DATETIME, help="批复时间（默认现在）")
@click.option("--note", default="", help="批复意见")
@BY_OPTION
@config_option
def lecture_approve(lecture_id, at, note, by) -> None:
    """党委宣传部批准当前报审。"""
    _decide(lecture_id, True, at, note, by)


@lecture.command("reject")
@click.argument("lecture_id", type=int)
@click.option("--at", type=DATETIME, help="批复时间（默认现在）")
@click.option("--note", default="", help="不予批准的理由")
@BY_OPTION
@config_option
def lecture_reject(lecture_id, at, note, by) -> None:
    """党委宣传部不予批准当前报审。"""
    _decide(lecture_id, False, at, note, by)


@lecture.command("change")
@click.argument("lecture_id", type=int)
@click.option("--reason", required=True, help="变更原因")
@click.option("--title", help="新名称")
@click.option("--date", "starts", type=MOMENT, help="新时间")
@click.option("--speaker", help="新主讲人")
@click.option("--place", help="新地点")
@click.option("--sensitive", multiple=True, help="新的敏感议题类别（替换原类别）")
@click.option("--not-sensitive", is_flag=True, help="不涉及敏感议题")
@click.option("--planned", is_flag=True, help="变更尚未报审")
@click.option("--filed", type=DATETIME, help="重新报审时间（默认现在）")
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), help="审批表等材料")
@BY_OPTION
@config_option
def lecture_change(lecture_id, reason, title, starts, speaker, place, sensitive, not_sensitive, planned, filed,
                   evidence, by) -> None:
    """登记变更：原审批失效，需重新报批。"""
    from scheduler.lectures import change

    if sensitive and not_sensitive:
        raise click.UsageError("--sensitive 与 --not-sensitive 不能同时使用")
    categories = () if not_sensitive else (sensitive or None)
    moment, known = starts if starts else (None, None)
    v = change(get_app(), lecture_id, reason=reason, title=title, speaker=speaker, place=place, starts=moment,
               time_known=known, categories=categories, planned=planned, filed_at=filed,
               evidence=[Path(e) for e in evidence], recorded_by=recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已变更（第 {v['version']} 版），原审批失效")


@lecture.command("held")
@click.argument("lecture_id", type=int)
@click.option("--at", type=MOMENT, help="实际举办时间（默认按登记时间）")
@click.option("--note", default="", help="备注")
@BY_OPTION
@config_option
def lecture_held(lecture_id, at, note, by) -> None:
    """登记讲座已举办。"""
    from scheduler.lectures import held

    moment, known = at if at else (None, True)
    v = held(get_app(), lecture_id, at=moment, time_known=known, note=note, recorded_by=recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已登记举办")


@lecture.command("cancel")
@click.argument("lecture_id", type=int)
@click.option("--reason", required=True, help="取消原因")
@BY_OPTION
@config_option
def lecture_cancel(lecture_id, reason, by) -> None:
    """登记讲座取消。"""
    from scheduler.lectures import cancel

    v = cancel(get_app(), lecture_id, reason, recorded_by=recorder(by))
    _echo_lecture(v, f"讲座 {lecture_id} 已取消")


@lecture.command("show")
@click.argument("lecture_id", type=int)
@format_option(("table", "json"))
@config_option
def lecture_show(lecture_id, fmt) -> None:
    """讲座详情与全部记录。"""
    from scheduler.lectures import history, show
    from scheduler.tables import render_json

    app = get_app()
    v, rows = show(app, lecture_id), history(app, lecture_id)
    if fmt == "json":
        out(render_json([{**v, "history": rows}]))
        return
    _echo_lecture(v)
    click.echo("")
    out(render_table(rows, [Column("at", "时间"), Column("what", "事项"), Column("detail", "内容"),
                             Column("by", "记录人"), Column("recorded_at", "记录时间")]))


LECTURE_STATUSES = ("planned", "pending", "approved", "rejected", "reported", "held", "cancelled", "violation")


@lecture.command("list")
@click.option("--unit", type=UNIT, help="只看该单位")
@click.option("--year", type=click.IntRange(1900, 2200), help="举办年度")
@click.option("--status", type=click.Choice(LECTURE_STATUSES), help="只看该状态（violation：有违规）")
@format_option()
@config_option
def lecture_list(unit, year, status, fmt) -> None:
    """讲座一览：报批截止日期、状态与违规。"""
    from scheduler.lectures import listing

    rows = listing(get_app(), unit=unit, year=year, status=status)
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
    emit(rows, cols, fmt, provisional_footnotes(rows, HOLIDAYS_FOOTNOTE), csv_keys=keys,
         words={"status": {r["status"]: r["status_text"] for r in rows}}, title="讲座")
