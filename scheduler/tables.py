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
from typing import Any, Callable, Iterable, Mapping, Sequence

FORMATS = ("table", "json", "csv")

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


@dataclass(frozen=True)
class Column:
    key: str                 # key in the record
    header: str              # Chinese header shown in the terminal table
    show: Callable[[Mapping[str, Any]], str] | None = None   # cell text from the whole record
    align: str = "left"      # left | right


def display_width(text: str) -> int:
    """Terminal columns taken by text: wide/full-width characters count 2, combining marks 0."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, align: str) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if align == "right" else text + fill


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
                 footnotes: Iterable[str] = (), empty: str = "（无）") -> str:
    if not records:
        return empty + "\n"
    header = [c.header for c in columns]
    body = [[c.show(r) if c.show else cell_text(r.get(c.key)) for c in columns] for r in records]
    widths = [max(display_width(row[i]) for row in [header, *body]) for i in range(len(columns))]
    lines = []
    lines.append("  ".join(_pad(h, w, "left") for h, w in zip(header, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append("  ".join(_pad(t, w, c.align) for t, w, c in zip(row, widths, columns)).rstrip())
    lines.extend(footnotes)
    return "\n".join(lines) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_json(records: Sequence[Mapping[str, Any]]) -> str:
    """A top-level list of objects, keys sorted, ISO dates: stable for scripts."""
    return json.dumps(list(records), ensure_ascii=False, indent=2, sort_keys=True,
                      default=_json_default) + "\n"


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
           footnotes: Iterable[str] = (), csv_keys: Sequence[str] | None = None) -> str:
    if fmt == "json":
        return render_json(records)
    if fmt == "csv":
        keys = csv_keys or (sorted(records[0]) if records else [c.key for c in columns])
        return render_csv(records, keys)
    return render_table(records, columns, footnotes)


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
