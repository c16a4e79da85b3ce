"""Supervision orders (督办单)."""

from __future__ import annotations

from pathlib import Path

import click

from cli import (
    BY_OPTION,
    DATE,
    DATETIME,
    KEY,
    SCORECARD_OPTION,
    UNIT,
    as_of_day,
    as_of_option,
    config_option,
    emit,
    format_option,
    get_app,
    out,
    recorder,
)
from scheduler.tables import STATE_WORDS, Column

ORDER_STATE_WORDS = {**STATE_WORDS, "done": "已整改", "late": "逾期整改", "waived": "已撤销", "open": "整改中"}


def _order_line(o: dict) -> str:
    word = ORDER_STATE_WORDS.get(o["status"], o["status"])
    extra = f"，逾期 {o['days_overdue']} 天" if o["status"] in ("overdue", "late") else ""
    return (f"督办单 {o['id']}（{o['period']}）{o['unit_name']}（{o['unit']}）：{o['text']}\n"
            f"  下达 {o['issued_on'].isoformat()}，整改期限 {o['deadline'].isoformat()}，{word}{extra}"
            + (f"\n  逾期计入考核项目 {o['item']}" if o["item"] else ""))


@click.group("order")
def order_cmd() -> None:
    """督办单（限期整改）。"""


@order_cmd.command("issue")
@click.option("--unit", type=UNIT, required=True, help="责任单位代码")
@click.option("--deadline", type=DATE, required=True, help="整改期限（含当天）")
@click.option("--text", "text", required=True, help="督办事项与整改要求")
@click.option("--date", "issued_on", type=DATE, help="下达日期（默认今天）")
@click.option("--key", type=KEY, help="督办事项编号（启用多个时）")
@click.option("--item", help="逾期时扣分的考核项目（如 4.3）")
@click.option("--deduct", type=float, help="逾期扣分（默认按该项目的扣分标准）")
@SCORECARD_OPTION
@BY_OPTION
@config_option
def order_issue(unit, deadline, text, issued_on, key, item, deduct, card_name, by) -> None:
    """下达督办单（有整改期限的一次性事项）。"""
    from scheduler.orders import issue

    o = issue(get_app(), unit, deadline, text, key=key, issued_on=issued_on, item=item, deduct=deduct,
              scorecard=card_name, recorded_by=recorder(by))
    click.echo(f"已下达督办单 {o['id']}：{o['obligation']} / {o['unit']} / {o['period']}")
    click.echo(_order_line(o))


@order_cmd.command("close")
@click.argument("order_id", type=int)
@click.option("--evidence", multiple=True, type=click.Path(dir_okay=False), required=True,
              help="整改材料（可多次）")
@click.option("--at", type=DATETIME, help="整改完成时间（默认现在）")
@click.option("--note", default="", help="备注")
@BY_OPTION
@config_option
def order_close(order_id, evidence, at, note, by) -> None:
    """提交整改材料，办结督办单（与 ccal submit … --period O<编号> 相同）。"""
    from scheduler.orders import close

    r = close(get_app(), order_id, [Path(e) for e in evidence], at=at, note=note, recorded_by=recorder(by))
    s, occ = r.submission, r.occurrence
    click.echo(f"督办单 {order_id} 已办结（提交记录 {s.id}，{s.submitted_at:%Y-%m-%d %H:%M}，"
               f"整改期限 {occ.due.isoformat()}，{'逾期整改' if s.late else '按期整改'}）")
    for ev in r.evidence:
        click.echo(f"整改材料 {ev.original_name} -> {ev.stored_path}")


@order_cmd.command("list")
@click.option("--unit", type=UNIT, help="只看该单位")
@click.option("--status", type=click.Choice(("open", "overdue", "done", "late", "waived")), help="只看该状态")
@as_of_option
@format_option()
@config_option
def order_list(unit, status, as_of, fmt) -> None:
    """督办单一览：整改期限与状态（逾期的计入考核扣分）。"""
    from scheduler.orders import listing

    app = get_app()
    # A query: it never writes (the findings of overdue orders are posted by every pass).
    rows = listing(app, as_of_day(app, as_of), unit=unit, status=status)
    cols = [Column("id", "编号", align="right"), Column("unit_name", "责任单位"), Column("text", "督办事项"),
            Column("issued_on", "下达"), Column("deadline", "整改期限"),
            Column("status", "状态", show=lambda r: ORDER_STATE_WORDS.get(r["status"], r["status"])),
            Column("days_overdue", "逾期天数", align="right", show=lambda r: str(r["days_overdue"] or "")),
            Column("item", "考核项目")]
    keys = ["id", "unit", "unit_name", "obligation", "period", "text", "issued_on", "deadline", "status",
            "days_overdue", "days_left", "closed_at", "item", "scorecard"]
    emit(rows, cols, fmt, csv_keys=keys, words={"status": ORDER_STATE_WORDS}, title="督办单")


@order_cmd.command("show")
@click.argument("order_id", type=int)
@as_of_option
@format_option(("table", "json"))
@config_option
def order_show(order_id, as_of, fmt) -> None:
    """督办单详情。"""
    from scheduler.orders import show
    from scheduler.tables import render_json

    app = get_app()
    o = show(app, order_id, as_of_day(app, as_of))
    if fmt == "json":
        out(render_json([o]))
    else:
        click.echo(_order_line(o))

