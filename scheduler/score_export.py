"""The year's scores as the department hands them on: terminal table, JSON, CSV and xlsx.

Everything here reads an `obligations.scoring.ScoreReport`; nothing is computed that the report
does not hold. The xlsx workbook (openpyxl) is meant to be printed or forwarded to the leaders
as it is: one ranking sheet per ranking, a sheet of branch scores, one detail sheet per unit;
Chinese headers, set column widths, frozen header rows, totals.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from obligations.packs import UNIT_KIND_NAMES
from obligations.scoring import ItemScore, Line, ScoreReport, UnitScore, fmt_points, round2
from scheduler.tables import Column, fit_text, render_table

KIND_WORDS = {k: UNIT_KIND_NAMES[k] for k in ("branch", "dept_branch", "office")}
NOT_COUNTED = "（不计）"


# --------------------------------------------------------------------------- shared wording

def ranking_title(report: ScoreReport, ranking_id: str | None) -> str:
    return next((r.title for r in report.rankings if r.id == ranking_id), "")


def place_text(report: ScoreReport, u: UnitScore) -> str:
    """"教学部门（按系党支部） 第2名（共5个），提醒谈话" / "支部成绩：所属处室平均分"."""
    if u.ranking is not None:
        ranking = next(r for r in report.rankings if r.id == u.ranking)
        text = f"{ranking.title} 第{u.rank}名（共{len(ranking.rows)}个）"
        return text + (f"，{report.card.flag_label}" if u.flagged else "")
    if u.averaged:
        return f"支部成绩：所属处室（{'、'.join(u.members)}）平均分"
    return "不参加排名"


def line_text(line: Line) -> str:
    mark = "" if line.counted else NOT_COUNTED
    note = f"（{line.note}）" if line.note and not line.counted else ""
    sign = "+" if line.points > 0 else ""
    return f"{mark}{line.reason} [{sign}{fmt_points(line.points)}]{note}"


NO_FINDINGS = "未发现问题"
NO_RECORDS = "尚无计分记录"


def nothing_to_score(report: ScoreReport) -> str:
    """What `ccal score` says for a year with no ledger entry at all (ScoreReport.empty)."""
    return (f"{report.year} 年度没有可计分的记录（没有已到期的事项、发现的问题或人工评分），"
            f"不计分，也不排名、不标注{report.card.flag_label}")


def item_reasons(i: ItemScore) -> list[str]:
    if not i.applicable:
        return ["不适用于本单位"]
    out = [line_text(ln) for ln in i.lines]
    out += list(i.notes)
    if not out:
        # A deductions item nobody found at fault keeps its full points: say so, rather than
        # suggest that nothing was looked at.
        full = i.item.deduction_rule is not None and i.score >= i.max - 1e-9
        out.append(NO_FINDINGS if full else NO_RECORDS)
    return out


def score_cell(i: ItemScore) -> str:
    if not i.applicable:
        return "不适用"
    return fmt_points(i.score) + ("（人工）" if i.manual else "")


# --------------------------------------------------------------------------- JSON and CSV

def _line_record(ln: Line) -> dict[str, Any]:
    return {"entry": ln.entry_id or None, "unit": ln.unit, "rule": ln.rule, "kind": ln.kind,
            "points": ln.points, "reason": ln.reason, "counted": ln.counted, "note": ln.note}


def unit_records(report: ScoreReport, unit: str | None = None) -> list[dict[str, Any]]:
    """One JSON object per unit (ranked units first, then branches); none for an empty year."""
    if report.empty:
        return []
    out = []
    for u in report.units:
        if unit is not None and u.unit.code != unit:
            continue
        out.append({
            "year": report.year, "scorecard": report.card.pack,
            "unit": u.unit.code, "unit_name": u.unit.name, "kind": u.unit.kind, "parent": u.unit.parent,
            "ranking": u.ranking, "rank": u.rank, "flagged": u.flagged,
            "total": u.total, "converted": u.converted, "subtotal": u.subtotal,
            "applicable_max": u.applicable_max, "bonus": u.bonus, "negative": u.negative,
            "members": list(u.members),
            "parts": [{"part": p.part.id, "title": p.part.title, "max": p.max, "score": p.score} for p in u.parts],
            "items": [{"item": i.item.id, "title": i.item.title, "max": i.max, "applicable": i.applicable,
                       "score": i.score if i.applicable else None, "manual": i.manual, "pending": i.pending,
                       "notes": list(i.notes), "lines": [_line_record(ln) for ln in i.lines]}
                      for i in u.items],
            "bonus_lines": [_line_record(ln) for ln in u.bonus_lines],
            "negative_lines": [_line_record(ln) for ln in u.negative_lines],
        })
    return out


CSV_KEYS = ["year", "unit", "unit_name", "kind", "ranking", "rank", "flagged", "item", "title", "max",
            "score", "reasons", "total"]


def csv_rows(report: ScoreReport, unit: str | None = None) -> list[dict[str, Any]]:
    """One row per unit and item, then its bonus, negative list and total rows; none for an
    empty year."""
    if report.empty:
        return []
    card = report.card
    rows = []
    for u in report.units:
        if unit is not None and u.unit.code != unit:
            continue
        base = {"year": report.year, "unit": u.unit.code, "unit_name": u.unit.name, "kind": u.unit.kind,
                "ranking": u.ranking, "rank": u.rank, "flagged": u.flagged, "total": u.total}
        for i in u.items:
            rows.append({**base, "item": i.item.id, "title": i.item.title, "max": i.max,
                         "score": i.score if i.applicable else None, "reasons": "；".join(item_reasons(i))})
        if not u.averaged:
            rows.append({**base, "item": card.bonus.id, "title": card.bonus.title, "max": card.bonus.max,
                         "score": u.bonus, "reasons": "；".join(line_text(ln) for ln in u.bonus_lines)})
            rows.append({**base, "item": card.negative.id, "title": card.negative.title, "max": None,
                         "score": u.negative, "reasons": "；".join(line_text(ln) for ln in u.negative_lines)})
        reasons = place_text(report, u)
        if not u.averaged and u.applicable_max < card.total:
            reasons += f"；适用满分{fmt_points(u.applicable_max)}，小计{fmt_points(u.subtotal)}折算为{fmt_points(u.converted)}"
        rows.append({**base, "item": "total", "title": "总分", "max": card.total, "score": u.total,
                     "reasons": reasons})
    return rows


# --------------------------------------------------------------------------- terminal table

_DETAIL_COLS = [Column("item", "项目"), Column("title", "考核要点"), Column("max", "分值", align="right"),
                Column("score", "得分", align="right"), Column("reason", "计分依据")]
_RANK_COLS = [Column("rank", "名次", align="right"), Column("unit", "单位代码"), Column("name", "单位", shrink=True),
              Column("total", "总分", align="right"), Column("flag", "备注", shrink=True)]


def unit_table(report: ScoreReport, u: UnitScore, width: int | None = -1) -> str:
    card = report.card
    head = fit_text(f"{u.unit.name}（{u.unit.code}）{report.year} 年度  总分 {u.total:.2f}  {place_text(report, u)}\n",
                    width)
    if u.averaged:
        rows = [{"rank": "", "unit": m.unit.code, "name": m.unit.name, "total": f"{m.total:.2f}", "flag": ""}
                for m in (report.unit(c) for c in u.members) if m is not None]
        return head + render_table(rows, _RANK_COLS, [f"平均分 {u.total:.2f}"], width=width)
    rows: list[dict[str, str]] = []
    for part in u.parts:
        rows.append({"item": f"{part.part.id}.", "title": part.part.title, "max": fmt_points(part.max),
                     "score": fmt_points(part.score), "reason": ""})
        for i in (i for i in u.items if i.item.part == part.part.id):
            reasons = item_reasons(i)
            rows.append({"item": i.item.id, "title": i.item.title, "max": fmt_points(i.max),
                         "score": score_cell(i), "reason": reasons[0]})
            rows += [{"item": "", "title": "", "max": "", "score": "", "reason": r} for r in reasons[1:]]
    bonus = [line_text(ln) for ln in u.bonus_lines] or [""]
    rows.append({"item": card.bonus.id, "title": card.bonus.title, "max": f"+{fmt_points(card.bonus.max)}",
                 "score": fmt_points(u.bonus), "reason": bonus[0]})
    rows += [{"item": "", "title": "", "max": "", "score": "", "reason": r} for r in bonus[1:]]
    negative = [line_text(ln) for ln in u.negative_lines] or [""]
    rows.append({"item": card.negative.id, "title": card.negative.title, "max": "",
                 "score": fmt_points(u.negative), "reason": negative[0]})
    rows += [{"item": "", "title": "", "max": "", "score": "", "reason": r} for r in negative[1:]]
    foot = [f"小计 {fmt_points(u.subtotal)} / 适用满分 {fmt_points(u.applicable_max)}，"
            f"折算 {u.converted:.2f}；特色加分 {fmt_points(u.bonus)}；负面清单 {fmt_points(u.negative)}；"
            f"总分 {u.total:.2f}"]
    return head + render_table(rows, _DETAIL_COLS, foot, width=width)


def ranking_table(report: ScoreReport, width: int | None = -1) -> str:
    out = []
    for r in report.rankings:
        rows = [{"rank": str(row.rank), "unit": row.unit, "name": row.name, "total": f"{row.total:.2f}",
                 "flag": report.card.flag_label if row.flagged else ""} for row in r.rows]
        out.append(fit_text(f"{report.year} 年度排名：{r.title}\n", width) + render_table(rows, _RANK_COLS, width=width))
    branches = [u for u in report.units if u.ranking is None]
    if branches:
        rows = [{"rank": "", "unit": u.unit.code, "name": u.unit.name, "total": f"{u.total:.2f}",
                 "flag": place_text(report, u)} for u in branches]
        out.append(fit_text("支部成绩（多个处室组成的支部取各处室平均分）\n", width) + render_table(rows, _RANK_COLS, width=width))
    out.append(fit_text(ranking_rule_text(report) + "\n", width))
    return "\n".join(out)


def ranking_rule_text(report: ScoreReport) -> str:
    n = report.card.flag_bottom
    return (f"排名规则：按总分（保留两位小数）从高到低，同分同名次（如 1、2、2、4）；"
            f"每个排名中总分不高于倒数第{n}名的单位均标注“{report.card.flag_label}”（与倒数第{n}名同分者一并标注）。")


def render_score_table(report: ScoreReport, unit: str | None = None, width: int | None = -1) -> str:
    """Per unit, per item with the reasons, then the rankings (or one unit only). `width`: as
    render_table's (-1: fit the terminal; None: uncut, for files)."""
    if report.empty:
        return nothing_to_score(report) + "\n"
    if unit is not None:
        u = report.unit(unit)
        return unit_table(report, u, width) if u is not None else f"{unit} 不参加考核\n"
    parts = [unit_table(report, u, width) for u in report.units]
    parts.append(ranking_table(report, width))
    return "\n".join(parts)


# --------------------------------------------------------------------------- xlsx

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_PART_FILL = PatternFill("solid", fgColor="F2F2F2")
_FLAG_FILL = PatternFill("solid", fgColor="FCE4D6")
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="top", wrap_text=True)
_NUMBER = "0.00"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_name(text: str, taken: set[str]) -> str:
    """A valid, unique sheet name (31 characters, no []:*?/\\)."""
    base = _BAD_SHEET_CHARS.sub("", text)[:31] or "Sheet"
    name, n = base, 2
    while name in taken:
        suffix = f"({n})"
        name = base[:31 - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


def _header(ws, row: int, headers: Sequence[str]) -> None:
    for c, text in enumerate(headers, start=1):
        cell = ws.cell(row=row, column=c, value=text)
        cell.font, cell.fill, cell.border, cell.alignment = _BOLD, _HEADER_FILL, _BOX, _CENTER


def _widths(ws, widths: Sequence[float]) -> None:
    for c, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = w


def _put(ws, row: int, values: Sequence[Any], *, number_cols: Sequence[int] = (), fill=None, bold=False) -> None:
    for c, v in enumerate(values, start=1):
        cell = ws.cell(row=row, column=c, value=v)
        cell.border, cell.alignment = _BOX, _WRAP
        if c in number_cols and isinstance(v, (int, float)):
            cell.number_format = _NUMBER
        if fill is not None:
            cell.fill = fill
        if bold:
            cell.font = _BOLD


def _ranking_sheet(wb: Workbook, report: ScoreReport, ranking, taken: set[str]) -> None:
    card = report.card
    ws = wb.create_sheet(sheet_name(f"排名-{ranking.title}", taken))
    parts = [f"{p.id}.{p.title}（{fmt_points(p.points)}）" for p in card.parts]
    headers = ["名次", "单位代码", "单位", *parts, "小计", "适用满分", "折算得分",
               f"{card.bonus.title}", f"{card.negative.title}", "总分", "备注"]
    ws.cell(row=1, column=1, value=f"{report.year}年度意识形态工作责任制考核排名：{ranking.title}").font = _TITLE
    _header(ws, 2, headers)
    first_num = 4
    numbers = list(range(first_num, len(headers)))
    row = 3
    for r in ranking.rows:
        u = report.unit(r.unit)
        values = [r.rank, u.unit.code, u.unit.name, *[p.score for p in u.parts], u.subtotal, u.applicable_max,
                  u.converted, u.bonus, u.negative, u.total, card.flag_label if r.flagged else ""]
        _put(ws, row, values, number_cols=numbers, fill=_FLAG_FILL if r.flagged else None)
        row += 1
    if ranking.rows:
        n = len(ranking.rows)
        avg = ["", "", "平均"]
        for c in range(first_num, len(headers)):
            avg.append(round2(sum(ws.cell(row=3 + k, column=c).value or 0 for k in range(n)) / n))
        avg.append("")
        _put(ws, row, avg, number_cols=numbers, bold=True)
        row += 1
    ws.cell(row=row + 1, column=1, value=ranking_rule_text(report))
    ws.cell(row=row + 2, column=1, value=_scale_note(report))
    ws.freeze_panes = "D3"
    _widths(ws, [6, 10, 22, *[12] * len(parts), 9, 9, 10, 9, 9, 9, 10])


def _scale_note(report: ScoreReport) -> str:
    if report.card.not_applicable == "full":
        return "不适用于本单位的项目按满分计入。"
    return (f"不适用于本单位的项目（如 1.7 仅适用于系党支部）不计分，小计按适用满分折算为"
            f"{fmt_points(report.card.total)}分制：折算得分 = 小计 ÷ 适用满分 × {fmt_points(report.card.total)}。")


def _branch_sheet(wb: Workbook, report: ScoreReport, taken: set[str]) -> None:
    branches = [u for u in report.units if u.ranking is None]
    if not branches:
        return
    ws = wb.create_sheet(sheet_name("支部成绩", taken))
    ws.cell(row=1, column=1, value=f"{report.year}年度意识形态工作责任制考核：支部成绩").font = _TITLE
    _header(ws, 2, ["支部代码", "支部", "组成处室", "成绩", "说明"])
    row = 3
    for u in branches:
        members = "、".join(f"{m.unit.name} {m.total:.2f}" for m in (report.unit(c) for c in u.members) if m)
        _put(ws, row, [u.unit.code, u.unit.name, members, u.total, place_text(report, u)], number_cols=[4])
        row += 1
    ws.cell(row=row + 1, column=1, value="多个处室组成的支部，各处室考核成绩的平均得分作为支部考核成绩。")
    ws.freeze_panes = "A3"
    _widths(ws, [10, 22, 46, 9, 40])


def _detail_sheet(wb: Workbook, report: ScoreReport, u: UnitScore, taken: set[str]) -> None:
    card = report.card
    ws = wb.create_sheet(sheet_name(f"{u.unit.code} {u.unit.name}", taken))
    ws.cell(row=1, column=1, value=f"{u.unit.name}（{u.unit.code}）{report.year}年度意识形态工作责任制考核得分明细").font = _TITLE
    ws.cell(row=2, column=1, value=f"{KIND_WORDS.get(u.unit.kind, u.unit.kind)}；{place_text(report, u)}；总分 {u.total:.2f}")
    if u.averaged:
        _header(ws, 3, ["处室代码", "处室", "总分"])
        row = 4
        for m in (report.unit(c) for c in u.members):
            if m is not None:
                _put(ws, row, [m.unit.code, m.unit.name, m.total], number_cols=[3])
                row += 1
        _put(ws, row, ["", "平均分（支部成绩）", u.total], number_cols=[3], bold=True)
        ws.freeze_panes = "A4"
        _widths(ws, [12, 30, 10])
        return
    _header(ws, 3, ["项目", "考核要点", "分值", "得分", "计分依据", "考核标准"])
    row = 4
    for part in u.parts:
        _put(ws, row, [f"{part.part.id}", f"{part.part.title}（{fmt_points(part.part.points)}分）",
                       part.max, part.score, "", ""], number_cols=[3, 4], fill=_PART_FILL, bold=True)
        row += 1
        for i in (i for i in u.items if i.item.part == part.part.id):
            score: Any = i.score if i.applicable else "不适用"
            _put(ws, row, [i.item.id, i.item.title, i.max, score, "\n".join(item_reasons(i)), i.item.standard],
                 number_cols=[3, 4])
            row += 1
    _put(ws, row, ["", "小计", u.applicable_max, u.subtotal, "", ""], number_cols=[3, 4], bold=True)
    row += 1
    if u.applicable_max != card.total:
        _put(ws, row, ["", "折算得分", card.total, u.converted, _scale_note(report), ""], number_cols=[3, 4], bold=True)
        row += 1
    _put(ws, row, [card.bonus.id, card.bonus.title, card.bonus.max, u.bonus,
                   "\n".join(line_text(ln) for ln in u.bonus_lines), card.bonus.standard], number_cols=[3, 4])
    row += 1
    _put(ws, row, [card.negative.id, card.negative.title, None, u.negative,
                   "\n".join(line_text(ln) for ln in u.negative_lines), card.negative.standard], number_cols=[3, 4])
    row += 1
    _put(ws, row, ["", "总分", card.total, u.total, "", ""], number_cols=[3, 4], bold=True)
    ws.freeze_panes = "A4"
    _widths(ws, [7, 34, 7, 8, 70, 50])


def workbook(report: ScoreReport, unit: str | None = None) -> Workbook:
    """The workbook: ranking sheets, the branch sheet, a detail sheet per unit (or only `unit`'s)."""
    wb = Workbook()
    if report.empty:
        ws = wb.active
        ws.title = f"{report.year}年度"
        ws.cell(row=1, column=1, value=nothing_to_score(report)).font = _TITLE
        return wb
    wb.remove(wb.active)
    taken: set[str] = set()
    for r in report.rankings:
        _ranking_sheet(wb, report, r, taken)
    _branch_sheet(wb, report, taken)
    for u in report.units:
        if unit is None or u.unit.code == unit:
            _detail_sheet(wb, report, u, taken)
    return wb


def write_xlsx(report: ScoreReport, target: Path | str | BinaryIO, unit: str | None = None) -> None:
    wb = workbook(report, unit)
    if isinstance(target, (str, Path)):
        wb.save(str(target))
    else:
        buf = io.BytesIO()
        wb.save(buf)
        target.write(buf.getvalue())
