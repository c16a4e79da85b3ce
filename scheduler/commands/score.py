"""The scorecard: scores, the ledger, manual scores and findings."""

from __future__ import annotations

from pathlib import Path

import click

from cli import (
    BY_OPTION,
    DATE,
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
from scheduler.tables import FORMATS, Column

# --------------------------------------------------------------------------- scorecard

def _scorecard(app, name: str | None):
    from scheduler.ledger import scorecard
    return scorecard(app, name)




@click.group("score", invoke_without_command=True)
@click.option("--year", type=click.IntRange(1900, 2200), help="考核年度")
@click.option("--unit", type=UNIT, help="只看该单位")
@click.option("--format", "fmt", type=click.Choice(FORMATS + ("xlsx",)), default="table", show_default=True,
              help="输出格式（xlsx 需要 --output）")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="写入文件")
@click.option("--no-post", is_flag=True, help="不先登记自动计分")
@SCORECARD_OPTION
@as_of_option
@config_option
@click.pass_context
def score(ctx: click.Context, year, unit, fmt, output, no_post, card_name, as_of) -> None:
    """年度考核得分与排名：各单位各项目得分及理由、总分、排名。

    ccal score --year 2026 [--unit 单位代码] [--format table|json|csv|xlsx] [--output 文件]"""
    if ctx.invoked_subcommand is not None:
        return
    if year is None:
        raise click.UsageError("请给出考核年度 --year，例如 ccal score --year 2026")
    if fmt == "xlsx" and not output:
        raise click.UsageError("xlsx 格式请用 --output 指定文件名，例如 --output 考核得分.xlsx")
    from scheduler import score_export
    from scheduler.ledger import score as compute
    from scheduler.tables import render_json, render_spreadsheet_csv

    app = get_app()
    card = _scorecard(app, card_name)
    report = compute(app, year, as_of_day(app, as_of), unit=unit, post=not no_post, card=card)
    if fmt == "xlsx":
        score_export.write_xlsx(report, Path(output), unit)
        click.echo(f"已写入 {output}", err=True)
        return
    if fmt == "json":
        text = render_json(score_export.unit_records(report, unit))
    elif fmt == "csv":
        text = render_spreadsheet_csv(score_export.csv_rows(report, unit), score_export.CSV_KEYS)
    else:
        text = score_export.render_score_table(report, unit, width=None if output else -1)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"已写入 {output}", err=True)
    else:
        out(text)


@score.command("post")
@click.option("--year", type=click.IntRange(1900, 2200), required=True, help="考核年度")
@SCORECARD_OPTION
@as_of_option
@config_option
def score_post(year, card_name, as_of) -> None:
    """登记自动计分（只登记变化）。"""
    from scheduler.ledger import post_automatic

    app = get_app()
    r = post_automatic(app, year, as_of_day(app, as_of), card=_scorecard(app, card_name))
    click.echo(f"{year} 年度自动计分：新增台账记录 {r.posted}，不变 {r.unchanged}")


@score.command("set")
@click.option("--unit", type=UNIT, required=True, help="单位代码")
@click.option("--year", type=click.IntRange(1900, 2200), required=True, help="考核年度")
@click.option("--item", required=True, help="考核项目 item (1.1 ... 5.3, 6 特色加分)")
@click.option("--points", type=float, help="得分")
@click.option("--reason", required=True, help="评分理由")
@click.option("--clear", is_flag=True, help="撤销人工评分，恢复按规则计分")
@BY_OPTION
@SCORECARD_OPTION
@config_option
def score_set(unit, year, item, points, reason, clear, by, card_name) -> None:
    """人工评分（新增一条台账记录）。"""
    from obligations.scoring import fmt_points
    from scheduler.ledger import set_score

    app = get_app()
    if clear and points is not None:
        raise click.UsageError("--clear 与 --points 不能同时使用")
    e = set_score(app, unit, year, item, points, reason, recorded_by=recorder(by), clear=clear,
                  card=_scorecard(app, card_name))
    what = "已撤销人工评分" if clear else f"已记录人工评分 {fmt_points(e.points)} 分"
    click.echo(f"{what}：{unit} {year} 年度 {item}（台账记录 {e.id}"
               + (f"，更正记录 {e.corrects_id}）" if e.corrects_id else "）"))


@score.command("ledger")
@click.option("--year", type=click.IntRange(1900, 2200), required=True, help="考核年度")
@click.option("--unit", type=UNIT, help="只看该单位")
@click.option("--item", help="只看该项目")
@SCORECARD_OPTION
@format_option()
@config_option
def score_ledger(year, unit, item, card_name, fmt) -> None:
    """计分台账：每次分数变化一条记录，按时间先后。"""
    from obligations.scoring import fmt_points
    from scheduler.ledger import ledger_rows

    app = get_app()
    rows = ledger_rows(app, year, unit=unit, item=item, card=_scorecard(app, card_name))
    kinds = {"auto": "自动", "manual": "人工", "unset": "撤销人工", "finding": "问题扣分"}
    cols = [Column("id", "编号", align="right"), Column("unit", "单位代码"), Column("item", "项目"),
            Column("kind", "类别", show=lambda r: kinds.get(r["kind"], r["kind"])),
            Column("points", "分数", align="right", show=lambda r: fmt_points(r["points"])),
            Column("reason", "理由"), Column("recorded_by", "记录人"), Column("recorded_at", "记录时间"),
            Column("corrects", "更正"), Column("in_force", "有效", show=lambda r: "是" if r["in_force"] else "")]
    emit(rows, cols, fmt, csv_keys=["id", "unit", "unit_name", "year", "item", "item_title", "kind",
                                           "points", "reason", "source_kind", "source_id", "recorded_by",
                                           "recorded_at", "corrects", "in_force"], words={"kind": kinds}, title="计分台账")


@click.group()
def finding() -> None:
    """检查发现的问题（扣分）。"""


@finding.command("add")
@click.option("--unit", type=UNIT, required=True, help="单位代码")
@click.option("--item", required=True, help="考核项目 item (4.3, 4.4, 3.2 ... 7 负面清单)")
@click.option("--text", "text", required=True, help="发现的问题")
@click.option("--date", "found_on", type=DATE, help="发现日期（默认今天）")
@click.option("--year", type=click.IntRange(1900, 2200), help="考核年度（默认发现日期所在年）")
@click.option("--count", type=click.IntRange(min=1), default=1, show_default=True,
              help="处数/次数/人数")
@click.option("--deduct", type=float, help="扣分（默认按考核标准：每处/次/人的扣分 × 数量）")
@BY_OPTION
@SCORECARD_OPTION
@config_option
def finding_add(unit, item, text, found_on, year, count, deduct, by, card_name) -> None:
    """登记检查发现的问题并扣分（新增一条台账记录）。"""
    from obligations.scoring import fmt_points
    from scheduler.ledger import add_finding

    app = get_app()
    r = add_finding(app, unit, item, text, year=year, found_on=found_on, count=count, deduct=deduct,
                    recorded_by=recorder(by), card=_scorecard(app, card_name))
    f = r.finding
    click.echo(f"已登记问题 {f.id}：{f.unit_code} {f.year} 年度 {f.item}，扣 {fmt_points(f.deduct)} 分"
               f"（台账记录 {r.entry.id}）")


@finding.command("list")
@click.option("--unit", type=UNIT, help="只看该单位")
@click.option("--year", type=click.IntRange(1900, 2200), help="考核年度")
@click.option("--item", help="只看该项目")
@format_option()
@config_option
def finding_list(unit, year, item, fmt) -> None:
    """已登记的问题（含编号，供更正使用）。"""
    from obligations.scoring import fmt_points
    from scheduler.records import FINDING_STATE_WORDS, finding_rows

    rows = finding_rows(get_app(packs=False), unit=unit, year=year, item=item)
    cols = [Column("id", "编号", align="right"), Column("unit", "单位代码"), Column("year", "年度"),
            Column("item", "项目"), Column("found_on", "发现日期"), Column("description", "问题"),
            Column("count", "数量", align="right"),
            Column("deduct", "扣分", align="right", show=lambda r: fmt_points(r["deduct"])),
            Column("state", "状态", show=lambda r: FINDING_STATE_WORDS[r["state"]]
                   + (f"（{r['corrected_by']}）" if r["corrected_by"] else ""))]
    emit(rows, cols, fmt, csv_keys=["id", "unit", "unit_name", "year", "item", "found_on", "description",
                                          "count", "deduct", "source_kind", "source_id", "state", "corrects",
                                          "corrected_by", "scorecard", "recorded_by", "recorded_at"],
         words={"state": FINDING_STATE_WORDS}, title="问题扣分")


@finding.command("correct")
@click.argument("finding_id", type=int)
@click.option("--reason", required=True, help="更正原因")
@click.option("--deduct", type=float, help="更正后的扣分（0 = 撤销扣分）")
@click.option("--count", type=click.IntRange(min=1), help="更正后的数量")
@click.option("--text", "text", help="更正后的问题描述")
@BY_OPTION
@SCORECARD_OPTION
@config_option
def finding_correct(finding_id, reason, deduct, count, text, by, card_name) -> None:
    """更正或撤销已登记的问题（新增记录，原记录保留）。"""
    from obligations.scoring import fmt_points
    from scheduler.ledger import correct_finding

    app = get_app()
    r = correct_finding(app, finding_id, reason, deduct=deduct, count=count, description=text,
                        recorded_by=recorder(by), card=_scorecard(app, card_name))
    f = r.finding
    what = "已撤销扣分" if f.deduct == 0 else f"扣分更正为 {fmt_points(f.deduct)} 分"
    click.echo(f"问题 {finding_id} {what}（问题记录 {f.id}，台账记录 {r.entry.id}）")


