"""Administrator holiday files: one or more years of official holiday arrangements.

Formats (documented in docs/holidays.md):
- TOML: `year = 2027`, `holidays = [...]`, `workdays = [...]`, optional `source`; or several
  `[[years]]` tables with the same keys. An entry is a date ("2027-01-01" or a TOML date), a
  range "2027-02-05..2027-02-11", or an inline table `{ date = "...", name = "春节" }`.
- CSV: header `date,type,name` (name optional), type `holiday`/`休` or `workday`/`班`. UTF-8
  (with or without BOM), else GB18030/GBK as Chinese Excel saves "CSV (逗号分隔)"
  (`obligations.csv_text`); `YearData.encoding` says which.

A year in a file is complete: every day of it not listed follows the weekend rule. The file
therefore must list every statutory holiday of a year from 2025 on, which catches stray or
truncated data before it overrides anything. Errors name the file, the line and the field.
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Mapping, NamedTuple

from obligations.csv_text import UTF8, CSVEncodingError, decode_csv
from obligations.statutory import statutory_holidays

YEAR_RANGE = range(1900, 2201)
# The 2025 statutory-holiday rule is checked against files for these years and later.
STATUTORY_RULE_FROM = 2025
HOLIDAY, WORKDAY = "holiday", "workday"
_TYPES = {"holiday": HOLIDAY, "休": HOLIDAY, "workday": WORKDAY, "班": WORKDAY}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_KEYS = {"year", "holidays", "workdays", "source"}
_WEEKDAY_ZH = "一二三四五六日"


@dataclass(frozen=True)
class YearData:
    """One year's days off and adjusted working days (调休上班); other days follow weekends."""

    year: int
    holidays: Mapping[date, str]  # date -> name ("" when the file gives none)
    workdays: Mapping[date, str]  # Saturdays/Sundays that are working days -> name
    source: str = ""  # the notice the data comes from, free text
    file: Path | None = field(default=None, compare=False)
    encoding: str = field(default="", compare=False)  # how the file was decoded (csv_text)


class HolidayFileError(ValueError):
    """A holiday file is unreadable or invalid; str() names file, line and field."""

    def __init__(self, file: Path | str, message: str, line: int | None = None, field: str | None = None):
        self.file, self.line, self.field, self.message = str(file), line, field, message
        where = self.file + (f":{line}" if line else "")
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


def read_holiday_file(path: Path) -> dict[int, YearData]:
    """Parse and validate one `.toml` or `.csv` file; the years it defines."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            decoded = decode_csv(path.read_bytes())
        except OSError as exc:
            raise HolidayFileError(path, f"无法读取文件：{exc}") from exc
        except CSVEncodingError as exc:
            raise HolidayFileError(path, str(exc), line=exc.line) from None
        years = _parse_csv(path, decoded.text)
        return {y: replace(d, encoding=decoded.encoding) for y, d in years.items()}
    try:
        text = path.read_text(encoding="utf-8-sig")   # TOML is UTF-8 by definition
    except (OSError, UnicodeDecodeError) as exc:
        raise HolidayFileError(path, f"无法读取文件：{exc}") from exc
    if suffix == ".toml":
        return {y: replace(d, encoding=UTF8) for y, d in _parse_toml(path, text).items()}
    raise HolidayFileError(path, "不支持的文件类型：请用 .toml 或 .csv")


def load_year_files(holiday_dir: Path | None) -> dict[int, YearData]:
    """Every `*.toml` and `*.csv` in `holiday_dir` (none if it does not exist yet)."""
    if holiday_dir is None or not Path(holiday_dir).is_dir():
        return {}
    years: dict[int, YearData] = {}
    paths = sorted(p for p in Path(holiday_dir).iterdir() if p.suffix.lower() in (".toml", ".csv") and p.is_file())
    for path in paths:
        for year, data in read_holiday_file(path).items():
            if year in years:
                raise HolidayFileError(path, f"{year} 年也在 {years[year].file} 中定义；"
                                             "每年只保留一个文件", field="year")
            years[year] = data
    return years


def write_year_file(data: YearData, holiday_dir: Path) -> Path:
    """Write `data` as a normalised `YEAR.toml` in `holiday_dir` (atomically); its path."""
    holiday_dir = Path(holiday_dir)
    holiday_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    if data.file is not None:
        lines.append(f"# Normalised by ccal from {Path(data.file).name}")
    lines.append(f"year = {data.year}")
    if data.source:
        lines.append(f"source = {_toml_str(data.source)}")
    for key, days in (("holidays", data.holidays), ("workdays", data.workdays)):
        lines.append(f"{key} = [")
        for first, last, name in _runs(days):
            span = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
            lines.append(f"  {{ date = \"{span}\", name = {_toml_str(name)} }},")
        lines.append("]")
    target = holiday_dir / f"{data.year}.toml"
    fd, tmp = tempfile.mkstemp(prefix=f".{data.year}.", suffix=".tmp", dir=holiday_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(tmp, target)  # readers never see a half-written file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class InstalledYears(list):
    """The years installed (sorted), and the encoding the file was read in (`.encoding`)."""

    def __init__(self, years, encoding: str):
        super().__init__(years)
        self.encoding = encoding


def install_holiday_file(src: Path, holiday_dir: Path) -> InstalledYears:
    """Validate `src`, then install each of its years as `YEAR.toml`; the years installed
    (a list, with `.encoding`: how the file was decoded, e.g. GB18030 for a GBK CSV)."""
    years = read_holiday_file(Path(src))
    holiday_dir = Path(holiday_dir)
    if holiday_dir.is_dir():  # another file for the same year would make the directory ambiguous
        for path in sorted(holiday_dir.iterdir()):
            if path.suffix.lower() not in (".toml", ".csv") or not path.is_file():
                continue
            clash = [y for y in read_holiday_file(path) if y in years and path.name != f"{y}.toml"]
            if clash:
                raise HolidayFileError(path, f"已定义 {clash[0]} 年；安装 {src} 前请先删除它",
                                       field="year")
    for data in years.values():
        write_year_file(data, holiday_dir)
    encoding = next((d.encoding for d in years.values()), "")
    return InstalledYears(sorted(years), encoding)


# --- TOML -----------------------------------------------------------------------------------

class _Entry(NamedTuple):
    field: str  # e.g. "holidays[2].date" (TOML) or "date" (CSV)
    line: int | None
    day: date
    name: str


def _parse_toml(path: Path, text: str) -> dict[int, YearData]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise HolidayFileError(path, f"不是有效的 TOML：{exc}", line=int(found.group(1)) if found else None) from exc
    if "years" in doc:
        if set(doc) != {"years"} or not isinstance(doc["years"], list):
            raise HolidayFileError(path, "顶层 `year = ...` 与 `[[years]]` 表只能用一种，不能同时使用",
                                   line=_key_line(text, "years"), field="years")
        tables = [(f"years[{i}].", t) for i, t in enumerate(doc["years"])]
    else:
        tables = [("", doc)]
    result: dict[int, YearData] = {}
    for prefix, table in tables:
        data = _toml_year(path, text, prefix, table)
        if data.year in result:
            raise HolidayFileError(path, f"{data.year} 年出现了两次", field=f"{prefix}year")
        result[data.year] = data
    return result


def _toml_year(path: Path, text: str, prefix: str, table: object) -> YearData:
    def fail(message: str, fld: str, key: str | None = None) -> HolidayFileError:
        return HolidayFileError(path, message, line=_key_line(text, key) if key else None, field=prefix + fld)

    if not isinstance(table, dict):
        raise HolidayFileError(path, "必须是表", field=prefix.rstrip("."))
    unknown = sorted(set(table) - _YEAR_KEYS)
    if unknown:
        raise fail(f"未知的键（可用：{'、'.join(sorted(_YEAR_KEYS))}）", unknown[0], unknown[0])
    year = table.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or year not in YEAR_RANGE:
        raise fail(f"必须是 {YEAR_RANGE.start}-{YEAR_RANGE.stop - 1} 之间的年份，实际为 {year!r}", "year", "year")
    source = table.get("source", "")
    if not isinstance(source, str):
        raise fail("必须是字符串", "source", "source")
    entries: dict[str, list[_Entry]] = {}
    for kind in (HOLIDAY, WORKDAY):
        items = table.get(kind + "s", [])
        if not isinstance(items, list):
            raise fail("必须是数组", kind + "s", kind + "s")
        entries[kind] = []
        for i, item in enumerate(items):
            where, name = f"{kind}s[{i}]", ""
            if isinstance(item, dict):
                extra = sorted(set(item) - {"date", "name"})
                if extra or "date" not in item:
                    raise fail("每一项只能有 `date` 和可选的 `name`", where, extra[0] if extra else None)
                name = item.get("name", "")
                if not isinstance(name, str):
                    raise fail("必须是字符串", where + ".name", None)
                item, where = item["date"], where + ".date"
            raw = item.isoformat() if isinstance(item, date) else item
            if not isinstance(raw, str):
                raise fail(f'必须是日期字符串，例如 "{year}-01-01"，实际为 {item!r}', where)
            line = _line_of(text, raw)
            try:
                days = _expand(raw)
            except ValueError as exc:
                raise HolidayFileError(path, str(exc), line=line, field=prefix + where) from exc
            entries[kind] += [_Entry(prefix + where, line, d, name.strip()) for d in days]
    return _build_year(path, year, entries, source.strip())


def _line_of(text: str, value: str) -> int | None:
    """First line holding `value` as a string or bare literal (tomllib keeps no positions)."""
    patterns = [re.escape(f'"{value}"'), re.escape(f"'{value}'"), rf"(?<![\w.-]){re.escape(value)}(?![\w.-])"]
    for pattern in patterns:
        found = re.search(pattern, text)
        if found:
            return text.count("\n", 0, found.start()) + 1
    return None


def _key_line(text: str, key: str) -> int | None:
    # `key = ...` or a `[[key]]` / `[key]` table header
    found = re.search(rf"^\s*\[?\[?\s*[\"']?{re.escape(key)}[\"']?\s*[=\]]", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


# --- CSV ------------------------------------------------------------------------------------

def _parse_csv(path: Path, text: str) -> dict[int, YearData]:
    rows = [(n, row) for n, row in enumerate(csv.reader(text.splitlines()), start=1)
            if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        raise HolidayFileError(path, "文件为空；第一行应为表头 date,type,name")
    header_line, header = rows[0][0], [c.strip().lower() for c in rows[0][1]]
    if header not in (["date", "type", "name"], ["date", "type"]):
        raise HolidayFileError(path, f"表头必须是 date,type,name，实际为 {','.join(header)}", line=header_line,
                               field="header")
    by_year: dict[int, dict[str, list[_Entry]]] = {}
    for line, row in rows[1:]:
        if len(row) > len(header):
            raise HolidayFileError(path, f"本行有 {len(row)} 列，表头有 {len(header)} 列", line=line)
        raw, kind, name = (row + ["", ""])[:3]
        try:
            days = _expand(raw.strip())
        except ValueError as exc:
            raise HolidayFileError(path, str(exc), line=line, field="date") from exc
        if days[0].year != days[-1].year or days[0].year not in YEAR_RANGE:
            raise HolidayFileError(path, f"日期必须在 {YEAR_RANGE.start}-{YEAR_RANGE.stop - 1} 之间的同一年内",
                                   line=line, field="date")
        kind = _TYPES.get(kind.strip().lower())
        if kind is None:
            raise HolidayFileError(path, f"未知的类型 {row[1].strip()!r}：请用 holiday/休 或 workday/班", line=line,
                                   field="type")
        entries = by_year.setdefault(days[0].year, {HOLIDAY: [], WORKDAY: []})
        entries[kind] += [_Entry("date", line, d, name.strip()) for d in days]
    return {year: _build_year(path, year, entries, "") for year, entries in sorted(by_year.items())}


# --- shared validation -----------------------------------------------------------------------

def _expand(raw: str) -> list[date]:
    """ "2027-02-05" or "2027-02-05..2027-02-11" -> the dates, inclusive."""
    parts = [p.strip() for p in raw.split("..")]
    if len(parts) > 2 or not all(_DATE_RE.fullmatch(p) for p in parts):
        raise ValueError(f"日期 {raw!r} 无效：请写 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD")
    try:
        first, last = date.fromisoformat(parts[0]), date.fromisoformat(parts[-1])
    except ValueError as exc:   # the format matched: a day that does not exist (02-30, 13-01)
        raise ValueError(f"日期 {raw!r} 无效：没有这一天") from exc
    if last < first:
        raise ValueError(f"日期范围 {raw!r} 的结束早于开始")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _build_year(path: Path, year: int, entries: Mapping[str, list[_Entry]], source: str) -> YearData:
    """Check one year's entries and assemble its YearData."""
    seen: dict[date, _Entry] = {}
    days: dict[str, dict[date, str]] = {HOLIDAY: {}, WORKDAY: {}}
    for kind in (HOLIDAY, WORKDAY):
        for entry in entries[kind]:
            def fail(message: str) -> HolidayFileError:
                return HolidayFileError(path, message, line=entry.line, field=entry.field)

            d = entry.day
            if d.year != year:
                raise fail(f"{d} 不在 {year} 年内")
            if d in seen:
                other = seen[d]
                also = f"第 {other.line} 行" if other.field == entry.field else other.field
                raise fail(f"{d} {'重复列出' if d in days[kind] else '同时列为节假日和调休上班日'}"
                           f"（另见 {also}）")
            if kind == WORKDAY and d.weekday() < 5:
                raise fail(f"{d} 是星期{_WEEKDAY_ZH[d.weekday()]}，本来就是工作日；"
                           "只有星期六或星期日才能是调休上班日")
            seen[d] = entry
            days[kind][d] = entry.name
    if not days[HOLIDAY]:
        raise HolidayFileError(path, f"{year} 年没有列出任何节假日；一个年度文件必须包含全年",
                               field="holidays")
    if year >= STATUTORY_RULE_FROM:
        for d, name in statutory_holidays(year).items():
            if d not in days[HOLIDAY]:
                raise HolidayFileError(path, f"{year} 年：法定节假日 {d}（{name}）没有列为节假日；"
                                             "一个年度文件必须包含全年", field="holidays")
    return YearData(year, dict(sorted(days[HOLIDAY].items())), dict(sorted(days[WORKDAY].items())), source, path)


def _runs(days: Mapping[date, str]) -> list[tuple[date, date, str]]:
    """Consecutive dates with the same name, as (first, last, name)."""
    runs: list[tuple[date, date, str]] = []
    for d, name in sorted(days.items()):
        if runs and runs[-1][2] == name and runs[-1][1] + timedelta(days=1) == d:
            runs[-1] = (runs[-1][0], d, name)
        else:
            runs.append((d, d, name))
    return runs


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'
