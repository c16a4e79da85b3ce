"""Render query results for a terminal, for spreadsheets (CSV) and for scripts (JSON).

A result is a list of flat dicts (the JSON objects) plus the columns a table shows.
Terminal tables pad by display width so that Chinese titles line up.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterator, Callable, Iterable, Mapping, Sequence

from scheduler.formats import FORMATS  # noqa: F401  (re-exported for the commands)
from obligations.provisional import HOLIDAYS, MARK as PROVISIONAL_MARK, REASONS, footnote

# The wording is obligations.provisional's, shared with the reminder messages.
# Dates from working-day arithmetic on a year without published holidays.
HOLIDAYS_FOOTNOTE = footnote((HOLIDAYS,))
# Occurrence rows whose reasons are not known: either reason may apply.
PROVISIONAL_FOOTNOTE = footnote(REASONS)

# Status words shown to secretaries, by Status.state.
STATE_WORDS = {
    "upcoming": "未开始", "open": "进行中", "overdue": "已逾期",
    "done": "已完成", "late": "逾期完成", "waived": "已豁免",
}


# Columns of long free text: cut with an ellipsis when a table is wider than the terminal.
# Every other column (codes, keys, periods, dates, states, numbers) is a key column: never cut.
SHRINKABLE_KEYS = frozenset({
    "title", "unit_name", "obligation_title", "item_title", "citation", "citation_quote", "citation_clause",
    "reason", "reasons", "note", "description", "text", "last_error", "categories_text", "deadline_text",
    "schedule_text", "path", "origin", "recipient", "address", "speaker", "place", "applies_to",
    "secretary", "head", "supervisor", "propaganda",
})
MIN_SHRUNK = 4          # a cut column keeps at least this many cells (or its header's width)
ELLIPSIS = "…"
# Footnote naming the columns left out because even the shortened table was wider than the terminal.
DROPPED_NOTE = "终端较窄，已省略："


@dataclass(frozen=True)
class Column:
    key: str                 # key in the record
    header: str              # Chinese header shown in the terminal table
    show: Callable[[Mapping[str, Any]], str] | None = None   # cell text from the whole record
    align: str = "left"      # left | right
    shrink: bool | None = None   # may be cut to fit the terminal (None: key in SHRINKABLE_KEYS)
    # Order in which columns are left out when even the cut table is too wide: higher goes first
    # (ties: the rightmost first); 0 never. None: 1 for cuttable text columns, 0 for key columns.
    drop: int | None = None

    @property
    def shrinkable(self) -> bool:
        return self.key in SHRINKABLE_KEYS if self.shrink is None else self.shrink

    @property
    def drop_rank(self) -> int:
        return (1 if self.shrinkable else 0) if self.drop is None else self.drop


def cjk_terminal(environ: Mapping[str, str] | None = None) -> bool:
    """A Chinese/Japanese/Korean locale: terminals there draw East-Asian ambiguous characters
    (“ ” ‘ ’ …) two cells wide."""
    import os
    env = os.environ if environ is None else environ
    locale = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    return locale.lower().startswith(("zh", "ja", "ko"))


def display_width(text: str, wide_ambiguous: bool | None = None) -> int:
    """Terminal columns taken by text: wide/full-width characters count 2, combining marks 0;
    ambiguous ones (“ ”) 2 in a CJK locale (`wide_ambiguous` None: from the environment)."""
    if wide_ambiguous is None:
        wide_ambiguous = cjk_terminal()
    wide = ("W", "F", "A") if wide_ambiguous else ("W", "F")
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in wide else 1
    return width


def cut(text: str, width: int, wide_ambiguous: bool = False) -> str:
    """`text` cut to `width` cells, ending in an ellipsis when something was cut."""
    if display_width(text, wide_ambiguous) <= width:
        return text
    room = width - display_width(ELLIPSIS, wide_ambiguous)
    out, used = [], 0
    for ch in text:
        w = display_width(ch, wide_ambiguous)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def terminal_width() -> int | None:
    """Width to fit tables into: the terminal's, or COLUMNS when set; None (no limit) when the
    output is a file or a pipe, so nothing is lost there."""
    import os
    import shutil
    import sys
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    try:
        if sys.stdout.isatty():
            return shutil.get_terminal_size().columns
    except (AttributeError, ValueError, OSError):
        pass
    return None


def _pad(text: str, width: int, align: str, wide_ambiguous: bool = False) -> str:
    fill = " " * (width - display_width(text, wide_ambiguous))
    return fill + text if align == "right" else text + fill


def fit_widths(widths: list[int], floors: list[int], shrinkable: list[bool], limit: int | None,
               gap: int = 2) -> list[int]:
    """Column widths whose total (with gaps) fits `limit`: the cuttable columns give up cells in
    proportion to their width, never below their floors; key columns keep their width."""
    widths = list(widths)
    if limit is None:
        return widths
    excess = sum(widths) + gap * (len(widths) - 1) - limit
    cuttable = [i for i, ok in enumerate(shrinkable) if ok and widths[i] > floors[i]]
    if excess <= 0 or not cuttable:
        return widths
    total = sum(widths[i] for i in cuttable)
    for i in cuttable:
        share = min(widths[i] - floors[i], excess * widths[i] // total)
        widths[i] -= share
    excess = sum(widths) + gap * (len(widths) - 1) - limit
    while excess > 0:       # what rounding left: a cell at a time from the widest
        candidates = [i for i in cuttable if widths[i] > floors[i]]
        if not candidates:
            break
        i = max(candidates, key=lambda i: widths[i])
        widths[i] -= 1
        excess -= 1
    return widths


def wrap(text: str, width: int | None, wide_ambiguous: bool = False) -> list[str]:
    """`text` broken into lines of at most `width` cells (None: one line), nothing cut."""
    if width is None or display_width(text, wide_ambiguous) <= width:
        return [text]
    lines, line, used = [], [], 0
    for ch in text:
        w = display_width(ch, wide_ambiguous)
        if used + w > width and line:
            lines.append("".join(line).rstrip())
            line, used = [], 0
            if ch == " ":
                continue
        line.append(ch)
        used += w
    if line:
        lines.append("".join(line).rstrip())
    return lines


def fit_text(text: str, width: int | None = -1) -> str:
    """Prose printed above or below a table, wrapped to the terminal (-1: terminal_width();
    None: as is). Keeps a trailing newline."""
    limit = terminal_width() if width == -1 else width
    if limit is None:
        return text
    wa = cjk_terminal()
    end = "\n" if text.endswith("\n") else ""
    return "\n".join(piece for line in text.rstrip("\n").split("\n")
                     for piece in wrap(line, limit, wa)) + end


def _split_header(header: str) -> tuple[str, str]:
    """A header on two lines (单位代码 → 单位 / 代码), for narrow terminals."""
    if len(header) < 2:
        return header, ""
    k = (len(header) + 1) // 2
    return header[:k].rstrip(), header[k:].lstrip()


@dataclass
class _Layout:
    keep: list[int]                  # indices of the columns shown
    widths: list[int]                # their widths
    header_rows: list[list[str]]     # one or two header lines, per shown column
    gap: int
    dropped: list[int]               # indices of the columns left out


def fit_layout(header: Sequence[str], body: Sequence[Sequence[str]], columns: Sequence[Column],
               limit: int | None, wa: bool = False) -> _Layout:
    """How a table fits `limit` cells, trying in turn: (1) as is; (2) text columns cut with "…"
    in proportion, down to a few cells; (3) compact: headers wider than their data on two lines,
    one space between columns; (4) columns left out, by Column.drop_rank. Key columns are
    never cut."""
    n = len(columns)
    data = [max((display_width(row[i], wa) for row in body), default=0) for i in range(n)]
    shrink = [c.shrinkable for c in columns]

    def sizes(heads: Sequence[Sequence[str]]) -> tuple[list[int], list[int]]:
        hw = [max(display_width(h, wa) for h in hs) for hs in heads]
        natural = [max(data[i], hw[i]) for i in range(n)]
        floors = [min(natural[i], max(MIN_SHRUNK, hw[i])) if shrink[i] else natural[i] for i in range(n)]
        return natural, floors

    def width_of(ws: Sequence[int], gap: int) -> int:
        return sum(ws) + gap * (len(ws) - 1)

    one = [[h] for h in header]
    natural, floors = sizes(one)
    widths = fit_widths(natural, floors, shrink, limit)
    if limit is None or width_of(widths, 2) <= limit:
        return _Layout(list(range(n)), widths, [list(header)], 2, [])
    two = [list(_split_header(h)) if display_width(h, wa) > data[i] else [h, ""] for i, h in enumerate(header)]
    natural, floors = sizes(two)
    keep, dropped = list(range(n)), []
    while True:
        widths = fit_widths([natural[i] for i in keep], [floors[i] for i in keep],
                            [shrink[i] for i in keep], limit, gap=1)
        droppable = [i for i in keep if columns[i].drop_rank > 0]
        if width_of(widths, 1) <= limit or not droppable:
            break
        worst = max(droppable, key=lambda i: (columns[i].drop_rank, i))
        keep.remove(worst)
        dropped.append(worst)
    rows = [[two[i][0] for i in keep], [two[i][1] for i in keep]]
    return _Layout(keep, widths, rows if any(rows[1]) else rows[:1], 1, sorted(dropped))


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_table(records: Sequence[Mapping[str, Any]], columns: Sequence[Column],
                 footnotes: Iterable[str] = (), empty: str = "（无）", width: int | None = -1,
                 wide_ambiguous: bool | None = None) -> str:
    """A terminal table padded by display width. `width`: fit into that many cells (-1: the
    terminal's, see terminal_width; None: no limit); long text columns are cut with "…",
    key columns (codes, keys, periods, dates, states) never."""
    if not records:
        return empty + "\n"
    wa = cjk_terminal() if wide_ambiguous is None else wide_ambiguous
    limit = terminal_width() if width == -1 else width
    header = [c.header for c in columns]
    body = [[c.show(r) if c.show else cell_text(r.get(c.key)) for c in columns] for r in records]
    lay = fit_layout(header, body, columns, limit, wa)
    shown = [columns[i] for i in lay.keep]
    sep = " " * lay.gap
    lines = [sep.join(_pad(h, w, "left", wa) for h, w in zip(heads, lay.widths)).rstrip()
             for heads in lay.header_rows]
    lines.append(sep.join("-" * w for w in lay.widths))
    for row in body:
        lines.append(sep.join(_pad(cut(row[i], w, wa), w, c.align, wa)
                              for i, w, c in zip(lay.keep, lay.widths, shown)).rstrip())
    notes = list(footnotes)
    if lay.dropped:
        notes.append(DROPPED_NOTE + "、".join(header[i] for i in lay.dropped))
    lines.extend(piece for note in notes for piece in wrap(note, limit, wa))
    return "\n".join(lines) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_chunks(records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """`render_json`'s text in pieces (one object per piece), to print without building it.
    `records` may be a stream: nothing is printed before its first record is read (a query
    that fails at once leaves no half-printed list)."""
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_json_default).encode
    records = iter(records)
    first = next(records, None)
    if first is None:
        yield "[]\n"
        return
    yield "[\n" + encode(first)
    for r in records:
        yield ",\n" + encode(r)
    yield "\n]\n"


def render_json(records: Sequence[Mapping[str, Any]]) -> str:
    """A top-level list of objects, keys sorted, ISO dates: stable for scripts. One object per
    line: each is encoded by json's C encoder (an `indent` would force the pure-Python one,
    most of the time of a 100,000-row answer)."""
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_json_default).encode
    records = list(records)
    if not records:
        return "[]\n"
    return "[\n" + ",\n".join(encode(r) for r in records) + "\n]\n"


# Chinese column headers of spreadsheet exports (CSV, xlsx), by JSON key. JSON stays English.
KEY_WORDS: dict[str, str] = {
    "id": "编号", "key": "键", "unit": "单位代码", "unit_name": "单位", "kind": "类型", "kind_text": "类型名称",
    "parent": "上级", "obligation": "事项编号", "obligation_title": "事项", "title": "名称", "period": "期间",
    "opens": "开始日期", "due": "截止日期", "provisional": "日期暂定", "status": "状态", "state": "状态",
    "done": "已完成次数", "required": "要求次数", "days_overdue": "逾期天数", "days_left": "剩余天数",
    "progress": "进度", "citation": "依据", "pack": "规则包", "clause": "条款", "applies_to": "适用单位",
    "responsible": "责任人", "schedule": "周期", "deadline": "截止规则", "deadline_text": "截止",
    "times": "次数", "default_date": "默认日期", "anchor": "锚点事项", "citation_source": "原文文件",
    "citation_clause": "依据条款", "citation_quote": "原文", "obligations": "事项数", "enabled": "启用",
    "origin": "来源", "path": "文件", "submitted_at": "完成时间", "late": "逾期", "corrects": "更正记录",
    "replaced_by": "被更正为", "evidence": "证明材料数", "note": "备注", "recorded_by": "记录人",
    "recorded_at": "记录时间", "reason": "原因", "revokes": "撤销记录", "revoked_by": "被撤销于",
    "date": "日期", "year": "年度", "item": "考核项目", "item_title": "考核项目名称", "found_on": "发现日期",
    "description": "问题", "count": "数量", "deduct": "扣分", "source_kind": "来源类别", "source_id": "来源编号",
    "corrected_by": "被更正为", "scorecard": "评分体系", "points": "分数", "in_force": "有效",
    "channel": "通道", "stage": "阶段", "window": "发送日", "recipient": "收件人", "address": "地址",
    "items": "事项数", "attempts": "尝试次数", "send_at": "计划发送时间", "next_attempt_at": "下次尝试",
    "sent_at": "发送时间", "last_error": "最近错误", "speaker": "主讲人", "place": "地点", "time": "时间",
    "categories": "敏感议题", "filed_at": "报审时间", "decided_at": "批复时间", "held_at": "举办时间",
    "violation": "违规", "text": "内容", "issued_on": "下达日期", "closed_at": "办结时间",
    "secretary": "书记", "head": "负责人", "supervisor": "分管领导", "propaganda": "宣传委员",
    "ranking": "排名类别", "rank": "名次", "flagged": "提醒谈话", "max": "满分", "score": "得分",
    "reasons": "计分理由", "total": "总分",
    "applies_to_text": "适用单位", "schedule_text": "周期",
}


def spreadsheet(records: Sequence[Mapping[str, Any]], keys: Sequence[str],
                words: Mapping[str, Mapping[Any, str]] | None = None) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows for a spreadsheet: Chinese headers (KEY_WORDS), Chinese state words
    (`words[key]`, default STATE_WORDS for "status"), 是/否 for booleans; dates and numbers stay
    typed (the xlsx writer keeps them; CSV writes ISO dates)."""
    words = {"status": STATE_WORDS, **(words or {})}
    headers = [KEY_WORDS.get(k, k) for k in keys]
    rows = []
    for r in records:
        row = []
        for k in keys:
            v = r.get(k)
            if k in words and v in words[k]:
                v = words[k][v]
            elif isinstance(v, bool):
                v = "是" if v else "否"
            elif isinstance(v, (list, tuple)):
                v = "、".join(map(str, v))
            row.append(v)
        rows.append(row)
    return headers, rows


def render_spreadsheet_csv(records: Sequence[Mapping[str, Any]], keys: Sequence[str],
                           words: Mapping[str, Mapping[Any, str]] | None = None) -> str:
    """CSV that opens in Chinese Excel: UTF-8 with a BOM, Chinese headers and state words."""
    headers, rows = spreadsheet(records, keys, words)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else v.isoformat() if isinstance(v, (date, datetime)) else v for v in row])
    return "\ufeff" + out.getvalue()


def render_csv(records: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    """CSV with the JSON keys as header row (stable for scripts and spreadsheets)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keys)
    for r in records:
        writer.writerow(["" if r.get(k) is None else
                         (r[k].isoformat() if isinstance(r.get(k), (date, datetime)) else
                          ("true" if r[k] is True else "false" if r[k] is False else r[k]))
                         for k in keys])
    return out.getvalue()


def render(records: Sequence[Mapping[str, Any]], columns: Sequence[Column], fmt: str,
           footnotes: Iterable[str] = (), csv_keys: Sequence[str] | None = None,
           words: Mapping[str, Mapping[Any, str]] | None = None, width: int | None = -1) -> str:
    """table (terminal), json (English keys and words, for scripts) or csv (for Chinese Excel:
    BOM, Chinese headers and words; `words[key]` maps a key's values to Chinese)."""
    if fmt == "json":
        return render_json(records)
    if fmt == "csv":
        return render_spreadsheet_csv(records, spreadsheet_keys(records, columns, csv_keys), words)
    return render_table(records, columns, footnotes, width=width)


def spreadsheet_keys(records, columns: Sequence[Column], csv_keys: Sequence[str] | None) -> list[str]:
    return list(csv_keys or (sorted(records[0]) if records else [c.key for c in columns]))


def date_cell(key: str, provisional_key: str = "provisional") -> Callable[[Mapping[str, Any]], str]:
    """A date cell that carries the provisional mark, e.g. 2027-01-08*."""
    def show(r: Mapping[str, Any]) -> str:
        text = cell_text(r.get(key))
        return text + PROVISIONAL_MARK if text and r.get(provisional_key) else text
    return show


def provisional_footnotes(records: Sequence[Mapping[str, Any]],
                          default: str = PROVISIONAL_FOOTNOTE) -> list[str]:
    """The footnote for the rows marked *: the reasons the rows carry (``provisional_reasons``,
    scheduler/provisional.py), else ``default``."""
    marked = [r for r in records if r.get("provisional")]
    if not marked:
        return []
    if all("provisional_reasons" in r for r in marked):
        return [footnote({x for r in marked for x in r["provisional_reasons"]})]
    return [default]
