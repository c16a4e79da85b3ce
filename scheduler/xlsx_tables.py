"""Any query result as an Excel workbook: one sheet, Chinese headers and state words (the
same cells as the CSV export), dates as dates, a frozen header row, column widths fitted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from scheduler.tables import display_width, spreadsheet


def write_table_xlsx(records: Sequence[Mapping[str, Any]], keys: Sequence[str], target: Path, *,
                     title: str = "ccal", words: Mapping[str, Mapping[Any, str]] | None = None,
                     notes: Sequence[str] = ()) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    headers, rows = spreadsheet(records, keys, words)
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, h in enumerate(headers, start=1):
        width = max([display_width(h, False)] + [display_width(_text(r[i - 1]), False) for r in rows])
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(60, width + 2)
        for cell in ws.iter_cols(min_col=i, max_col=i, min_row=2).__next__() if rows else ():
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    for note in notes:
        ws.append([])
        ws.append([note])
    wb.save(target)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return "0000-00-00 00:00"
    if isinstance(v, date):
        return "0000-00-00"
    return str(v)
