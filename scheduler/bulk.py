"""Bulk paths: many submissions at once (`submit_many`, `ccal submit --from-csv FILE`).

The same validation as `submissions.submit` (obligation, unit, that it applies, period), every
bad row reported with its line and field, the good rows kept. Writes go in batches: the
occurrences of a batch are looked up in one query, the missing ones of a (unit, year) are
materialised once (untracked in a year nobody tracks, scheduler/tracking.py), the submissions
inserted in one statement, the state columns refreshed once per batch
(`submissions.refresh_occurrences`), and an anchor meeting moves its dependents once at the end.

CSV (header row, any order): `key` (事项编号), `unit` (单位代码), `period` (期间), `at` (完成时间,
`YYYY-MM-DD` or `YYYY-MM-DD HH:MM`; default now), `note` (备注, optional). Decoding: UTF-8 (with or
without BOM), else GB18030 (what Chinese Excel writes as "CSV"), by the shared
`obligations.csv_text.decode_csv`.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, select

from obligations.csv_text import CSVEncodingError, RowError, decode_csv
from obligations.schedules import periods_in_year
from scheduler.materialise import anchor_keys, applies_to_unit, materialise, move_dependents, period_year
from scheduler.models import Occurrence, Submission, Unit
from scheduler.submissions import refresh_occurrences
from scheduler.tracking import recorded_years

if TYPE_CHECKING:
    from scheduler.app import App

BATCH = 1000
COLUMNS = {"key": "key", "事项编号": "key", "事项": "key", "unit": "unit", "单位代码": "unit", "单位": "unit",
           "period": "period", "期间": "period", "at": "at", "完成时间": "at", "note": "note", "备注": "note"}
REQUIRED = ("key", "unit", "period")


@dataclass(frozen=True)
class SubmitRow:
    line: int
    key: str
    unit: str
    period: str
    at: datetime | None = None
    note: str = ""


@dataclass
class BulkResult:
    recorded: int = 0
    late: int = 0
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        text = f"已登记 {self.recorded} 条（其中逾期完成 {self.late} 条）"
        if self.errors:
            text += f"；{len({e.line for e in self.errors})} 行有误未登记"
        return text


class BulkInputError(ValueError):
    def __init__(self, errors: Sequence[RowError]):
        self.errors = list(errors)
        super().__init__("\n".join(map(str, self.errors)))


# --------------------------------------------------------------------------- reading the CSV

def _parse_at(text: str) -> datetime:
    text = text.strip().replace("/", "-")
    if len(text) == 10:
        return datetime.combine(datetime.fromisoformat(text).date(), time(12, 0))
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    if parsed.tzinfo is not None:
        raise ValueError("带时区")
    return parsed


def read_csv(path: Path | str) -> tuple[list[SubmitRow], list[RowError]]:
    """Rows and row errors of a submissions CSV. Raises BulkInputError when the file cannot be
    read or its header is wrong."""
    path = Path(path)
    label = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BulkInputError([RowError(label, None, None, f"无法读取文件：{e.strerror}")]) from None
    try:
        text = decode_csv(raw).text      # the shared decoder: UTF-8 (BOM or not), else GB18030
    except CSVEncodingError as e:
        raise BulkInputError([RowError(label, e.line, None, str(e))]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[SubmitRow] = []
    errors: list[RowError] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [COLUMNS.get(c.strip().lower(), COLUMNS.get(c.strip(), "")) for c in cells]
                bad = [c.strip() for c, h in zip(cells, header) if not h]
                missing = [c for c in REQUIRED if c not in header]
                if bad or missing:
                    raise BulkInputError(
                        [RowError(label, line, c, "未知列（可用：key/事项编号, unit/单位代码, period/期间, at/完成时间, "
                                               "note/备注）") for c in bad]
                        + [RowError(label, line, c, "缺少必需的列") for c in missing])
                continue
            if len(cells) != len(header):
                errors.append(RowError(label, line, None, f"应有 {len(header)} 个字段，实有 {len(cells)} 个"))
                continue
            values = {h: c.strip() for h, c in zip(header, cells)}
            empty = [c for c in REQUIRED if not values.get(c)]
            if empty:
                errors += [RowError(label, line, c, "不能为空") for c in empty]
                continue
            at = None
            if values.get("at"):
                try:
                    at = _parse_at(values["at"])
                except ValueError:
                    errors.append(RowError(label, line, "at", f"{values['at']!r} 不是日期时间，格式为 YYYY-MM-DD 或 "
                                                              "'YYYY-MM-DD HH:MM'（本地时间）"))
                    continue
            rows.append(SubmitRow(line, values["key"], values["unit"], values["period"], at, values.get("note", "")))
    except csv.Error as e:
        raise BulkInputError([RowError(label, reader.line_num, None, f"CSV 格式错误：{e}")]) from None
    if header is None:
        raise BulkInputError([RowError(label, None, None, "文件为空（没有表头）")])
    return rows, errors


# --------------------------------------------------------------------------- recording

def submit_many(app: "App", rows: Iterable[SubmitRow], *, label: str = "", recorded_by: str = "",
                session: Session | None = None) -> BulkResult:
    """Record many submissions (no evidence files, no corrections: those go one by one).
    Bad rows are returned in `result.errors` with their line; the good ones are recorded."""
    if session is None:
        with app.session() as s:
            return submit_many(app, rows, label=label, recorded_by=recorded_by, session=s)
    result = BulkResult()
    units = {u.code: u for u in session.exec(select(Unit)).all()}
    tracked = recorded_years(app, session)
    anchors = anchor_keys(app)
    anchor_periods: dict[str, set[str]] = defaultdict(set)
    labels_cache: dict[tuple[str, int], set[str]] = {}
    good: list[SubmitRow] = []

    def bad(row: SubmitRow, fld: str | None, message: str) -> None:
        result.errors.append(RowError(label, row.line, fld, message))

    for row in rows:
        ob = app.obligations.get(row.key)
        if ob is None:
            bad(row, "key", f"未知事项编号 {row.key}")
            continue
        unit = units.get(row.unit)
        if unit is None:
            bad(row, "unit", f"未知单位代码 {row.unit}")
            continue
        if not applies_to_unit(ob, unit, app.propaganda_unit):
            bad(row, "key", f"事项 {row.key} 不适用于单位 {unit.code}（{unit.name}）")
            continue
        year = period_year(row.period)
        if ob.schedule.kind in ("event", "ad_hoc") or year is None:
            if ob.schedule.kind not in ("event", "ad_hoc"):
                bad(row, "period", f"期间格式有误 {row.period!r}")
                continue
        else:
            known = labels_cache.get((row.key, year))
            if known is None:
                known = labels_cache[(row.key, year)] = {p.label for p in periods_in_year(ob.schedule, year, app.context)}
            if row.period not in known:
                bad(row, "period", f"未知期间 {row.period!r}（{year} 年的期间为 {', '.join(sorted(known)) or '无'}）")
                continue
        good.append(row)

    now = app.now()
    for i in range(0, len(good), BATCH):
        batch = good[i:i + BATCH]
        keys = {(r.unit, r.key, r.period) for r in batch}
        found = _occurrences(session, keys)
        missing = defaultdict(set)
        for r in batch:
            if (r.unit, r.key, r.period) not in found and period_year(r.period) is not None:
                missing[period_year(r.period)].add(r.unit)
        for year, codes in missing.items():
            materialise(app, [year], sorted(codes), session=session, track=year in tracked)
        if missing:
            found = _occurrences(session, keys)
        values = []
        for r in batch:
            occ = found.get((r.unit, r.key, r.period))
            if occ is None:
                bad(r, "period", f"未知期间 {r.period!r}（活动或督办事项请先登记活动/督办单）")
                continue
            oid, due = occ
            when = r.at or now
            late = when.date() > due
            values.append({"occurrence_id": oid, "submitted_at": when, "recorded_at": now, "recorded_by": recorded_by,
                           "note": r.note, "late": late, "withdrawn": False, "corrects_id": None})
            result.recorded += 1
            result.late += int(late)
            if r.key in anchors:
                anchor_periods[r.key].add(r.period)
        if values:
            session.execute(insert(Submission.__table__), values)
            _refresh(session, values, now)
    for key, periods in anchor_periods.items():     # the meetings move their dependents
        move_dependents(app, session, key, periods)
    result.errors.sort(key=lambda e: (e.line or 0, e.field or ""))
    session.flush()
    return result


def _occurrences(session: Session, keys) -> dict[tuple[str, str, str], tuple[int, object]]:
    """(unit, key, period) -> (id, due) of the stored occurrences among `keys`: one query by
    units and periods (short parameter lists), the exact keys picked here."""
    keys = set(keys)
    units = sorted({k[0] for k in keys})
    periods = sorted({k[2] for k in keys})
    out = {}
    for i in range(0, len(units), 500):
        q = select(Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period, Occurrence.id, Occurrence.due) \
            .where(col(Occurrence.unit_code).in_(units[i:i + 500]), col(Occurrence.period).in_(periods))
        for u, k, p, oid, due in session.exec(q).all():
            if (u, k, p) in keys:
                out[(u, k, p)] = (oid, due)
    return out


def _refresh(session: Session, values: list[dict], now: datetime) -> None:
    """The state columns after inserting `values` (new submissions, none a correction). An
    occurrence that had no counting submission (`done = 0`) counts exactly the new rows, so its
    state is computed here; the others go through `refresh_occurrences`."""
    new: dict[int, list[datetime]] = defaultdict(list)
    for v in values:
        new[v["occurrence_id"]].append(v["submitted_at"])
    ids = sorted(new)
    fresh, other = [], []
    for i in range(0, len(ids), 500):
        for oid, required, done, waived in session.exec(
                select(Occurrence.id, Occurrence.required, Occurrence.done, Occurrence.waived)
                .where(col(Occurrence.id).in_(ids[i:i + 500]))).all():
            if done:
                other.append(oid)
                continue
            times = sorted(new[oid])
            completed = times[required - 1] if len(times) >= required else None
            fresh.append({"oid": oid, "done": len(times), "completed_at": completed,
                          "is_open": completed is None and not waived, "state_changed_at": now})
    if fresh:
        t = Occurrence.__table__
        session.execute(t.update().where(t.c.id == bindparam("oid")).values(
            done=bindparam("done"), completed_at=bindparam("completed_at"), is_open=bindparam("is_open"),
            state_changed_at=bindparam("state_changed_at")), fresh)
    refresh_occurrences(session, other, now)


def submit_csv(app: "App", path: Path | str, *, recorded_by: str = "") -> BulkResult:
    """`ccal submit --from-csv FILE`: every good row recorded, every bad row in `errors`."""
    rows, errors = read_csv(path)
    result = submit_many(app, rows, label=str(path), recorded_by=recorded_by)
    result.errors = sorted(errors + result.errors, key=lambda e: (e.line or 0, e.field or ""))
    return result
