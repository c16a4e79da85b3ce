"""Read-only questions about the calendar: what is overdue, what falls due next, one unit's
year, the occurrences in a date range, the obligation catalogue.

Every query takes an explicit `as_of` (the CLI passes today in the configured zone) and
returns JSON-ready rows: flat dicts with ISO-serialisable values. Queries never write: open
work is selected in SQL from the occurrence's state columns (`is_open`, `completed_at`,
`waived`, kept by `submissions.refresh_occurrences`), so a query costs what its answer costs.
A year nobody materialised (not in `tracked_year` under the enabled packs, see
scheduler/tracking.py) is completed on the fly: its occurrences are computed, shown, and not
stored, so looking at 2025 never turns on reminders for 2025. Statuses come from
`obligations.occurrences.occurrence_status`.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import or_
from sqlmodel import Session, col, select

from obligations.citations import cite, document_name
from obligations.occurrences import Status, occurrence_status
from obligations.packs import Obligation, unit_kind_name
from scheduler.app import UserInputError
from scheduler.materialise import _slots, applies_to_unit
from scheduler.models import Occurrence, Unit
from scheduler.provisional import reasons_of as provisional_reasons
from scheduler.submissions import counting_submissions, open_on, open_on_halves
from scheduler.tracking import unrecorded

if TYPE_CHECKING:
    from obligations.workdays import WorkdayCalendar
    from scheduler.app import App

OPEN_STATES = ("upcoming", "open", "overdue")


class _Item(NamedTuple):     # a tuple: 150,000 of them are made for a province's overdue
    occ: Occurrence        # a stored row's columns (a Row), or a computed Occurrence (untracked year)
    unit_name: str
    ob: Obligation
    status: Status
    provisional_reasons: tuple[str, ...] = ()   # obligations.provisional reasons; () = a firm date


def _sort_key(item: _Item):
    o = item.occ
    return (o.due, o.unit_code, o.obligation_key, o.period)


_COLUMNS = (Occurrence.id, Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period, Occurrence.opens,
            Occurrence.due, Occurrence.required, Occurrence.provisional, Occurrence.event_id, Occurrence.done,
            Occurrence.completed_at, Occurrence.waived)


def _load(app: "App", session: Session, *conditions, as_of: date) -> list[_Item]:
    """The stored occurrences matching `conditions` (of enabled obligations), with status."""
    return list(_stream(app, session, *conditions, as_of=as_of))


def _stream(app: "App", session: Session, *conditions, as_of: date, chunk: int = 2000) -> Iterator[_Item]:
    """`_load`'s items one by one, read from SQL `chunk` rows at a time: an answer of
    100,000 rows is never held whole (overdue's JSON is printed as it comes)."""
    # Plain rows of the columns used, not ORM objects.
    # Rows of obligations no longer enabled are dropped here, not in SQL: an IN of every
    # enabled key would steer SQLite to the obligation_key index instead of (is_open, due).
    q = (select(*_COLUMNS, Unit.name).join(Unit, col(Unit.code) == col(Occurrence.unit_code))
         .where(*conditions)
         .order_by(Occurrence.due, Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period)
         .execution_options(yield_per=chunk))
    # Submission dates are read only where the state columns cannot tell the count as of
    # `as_of` (partly done, or completed after it): the answer's size, not the history's.
    end = datetime.combine(as_of, time.max)
    tz = app.config.general.tz
    obligations = app.obligations
    # Core execution (no ORM result layer: these are plain columns).
    for rows in session.connection().execute(q).partitions():
        rows = [o for o in rows if o.obligation_key in obligations]
        need = [o.id for o in rows if o.done and not (o.completed_at is not None and o.completed_at <= end)]
        subs: dict[int, list[datetime]] = {}
        for i in range(0, len(need), 500):
            subs.update(counting_submissions(session, need[i:i + 500]))
        reasons = provisional_reasons(app, session, rows)
        for occ in rows:
            if occ.completed_at is not None and occ.completed_at <= end:
                times = [occ.completed_at] * occ.required
            else:
                times = subs.get(occ.id, ())
            yield _Item(occ, occ.name, obligations[occ.obligation_key],
                        occurrence_status(occ.opens, occ.due, occ.required, times, bool(occ.waived),
                                          as_of, tz=tz), reasons.get(occ.id, ()))


def _virtual(app: "App", session: Session, years, due_lo: date, due_hi: date, as_of: date,
             unit: str | None = None) -> list[_Item]:
    """Occurrences of the years nobody materialised, computed and not stored: the calendar
    slots due in [due_lo, due_hi] of every unit they apply to, minus the rows that exist."""
    years = unrecorded(app, session, years)
    if not years or due_hi < due_lo:
        return []
    slots = [s for s in _slots(app, session, years) if due_lo <= s.due <= due_hi]
    if not slots:
        return []
    uq = select(Unit).order_by(Unit.code)
    units = session.exec(uq if unit is None else uq.where(Unit.code == unit)).all()
    eq = (select(Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period)
          .where(col(Occurrence.period).in_(sorted({s.period for s in slots})),
                 col(Occurrence.obligation_key).in_(sorted({s.key for s in slots}))))
    if unit is not None:
        eq = eq.where(Occurrence.unit_code == unit)
    stored = set(session.exec(eq).all())
    tz = app.config.general.tz
    pending = []
    for slot in slots:
        ob = app.obligations[slot.key]
        for u in units:
            if (u.code, slot.key, slot.period) in stored or not applies_to_unit(ob, u, app.propaganda_unit):
                continue
            # A negative id: never stored, never confused with a row (provisional reasons key on it).
            occ = Occurrence(id=-(len(pending) + 1), unit_code=u.code, obligation_key=slot.key,
                             period=slot.period, opens=slot.opens, due=slot.due, required=slot.required,
                             provisional=slot.provisional)
            pending.append((occ, u.name, ob))
    reasons = provisional_reasons(app, session, [occ for occ, _, _ in pending])
    return [_Item(occ, name, ob, occurrence_status(occ.opens, occ.due, occ.required, (), False, as_of, tz=tz),
                  reasons.get(occ.id, ()))
            for occ, name, ob in pending]


def citation_text(ob: Obligation) -> str:
    """The citation as people read it: document title and 文号, clause, quote."""
    return cite(ob.citation, quote=True)


def _row(item: _Item, as_of: date, **extra: Any) -> dict[str, Any]:
    occ, st = item.occ, item.status
    row = {
        "unit": occ.unit_code, "unit_name": item.unit_name,
        "obligation": occ.obligation_key, "title": item.ob.title, "period": occ.period,
        "opens": occ.opens, "due": occ.due, "provisional": bool(item.provisional_reasons),
        "provisional_reasons": list(item.provisional_reasons),
        "status": st.state, "done": st.done, "required": st.required,
    }
    row.update(extra)
    return row


def _days_left(item: _Item, as_of: date) -> int:
    return max((item.occ.due - as_of).days, 0)


def progress_text(st: Status, due: date, as_of: date) -> str:
    """Count-based progress for secretaries: "已完成 2/6，剩余 40 天"."""
    if st.state == "waived":
        return "已豁免"
    text = f"已完成 {st.done}/{st.required}"
    if st.state == "late":
        return text + f"，逾期 {st.days_overdue} 天完成"
    if st.state == "overdue":
        return text + f"，已逾期 {st.days_overdue} 天"
    if st.state in ("open", "upcoming"):
        return text + f"，剩余 {(due - as_of).days} 天"
    return text


def _unit_condition(unit: str | None):
    return [] if unit is None else [Occurrence.unit_code == unit]


def _check_unit(app: "App", session: Session, unit: str | None) -> None:
    if unit is not None:
        app.unit(session, unit)     # raises UserInputError for an unknown code


# --------------------------------------------------------------------------- queries

def overdue(app: "App", as_of: date, unit: str | None = None) -> list[dict[str, Any]]:
    """Occurrences past due on `as_of` without the submissions they need (not waived)."""
    return list(overdue_rows(app, as_of, unit))


def overdue_rows(app: "App", as_of: date, unit: str | None = None) -> Iterator[dict[str, Any]]:
    """`overdue`'s rows as they are read (sorted): the CLI prints a province's JSON without
    holding it. An unknown unit raises before the first row."""
    session = Session(app.engine)      # read only: closed when the rows are read
    try:
        _check_unit(app, session, unit)
        # Periods start at most a year before they are due (an autumn semester is due in January).
        computed = sorted(_virtual(app, session, (as_of.year - 1, as_of.year), date(as_of.year, 1, 1),
                                   as_of - timedelta(days=1), as_of, unit), key=_sort_key)
    except BaseException:
        session.close()
        raise
    return _overdue_rows(app, session, as_of, unit, computed)


def _overdue_rows(app: "App", session: Session, as_of: date, unit: str | None,
                  computed: list[_Item]) -> Iterator[dict[str, Any]]:
    with session:
        # Open now, and (for a past day) done only since: each a range of its own index, merged.
        streams = [_stream(app, session, col(Occurrence.due) < as_of, *half, *_unit_condition(unit), as_of=as_of)
                   for half in open_on_halves(session, as_of)]
        if computed:      # stored rows come sorted from SQL; computed ones are merged in
            streams.append(iter(computed))
        items = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_sort_key)
        for i in items:
            if i.status.state == "overdue":
                yield _row(i, as_of, days_overdue=i.status.days_overdue)


def upcoming(app: "App", as_of: date, days: int = 30, unit: str | None = None) -> list[dict[str, Any]]:
    """Occurrences still to do that fall due within `days` days from `as_of` (inclusive)."""
    if days < 0:
        raise UserInputError("--days 不能为负数")
    end = as_of + timedelta(days=days)
    with app.session() as session:
        _check_unit(app, session, unit)
        items = _load(app, session, col(Occurrence.due) >= as_of, col(Occurrence.due) <= end, open_on(as_of),
                      *_unit_condition(unit), as_of=as_of)
        items += _virtual(app, session, range(as_of.year - 1, end.year + 1), as_of, end, as_of, unit)
    items.sort(key=_sort_key)
    return [_row(i, as_of, days_left=_days_left(i, as_of)) for i in items if i.status.state in OPEN_STATES]


@dataclass(frozen=True)
class UnitYear:
    unit: str
    unit_name: str
    year: int
    rows: list[dict[str, Any]]

    @property
    def totals(self) -> dict[str, int]:
        counts = Counter(r["status"] for r in self.rows)
        return {s: counts.get(s, 0) for s in ("done", "late", "open", "overdue", "waived", "upcoming")}


def unit_year(app: "App", unit: str, year: int, as_of: date) -> UnitYear:
    """One unit's occurrences of the periods starting in `year`, plus the dated ones due in
    `year`: events (E<id>: lectures, meetings) and supervision orders (O<id>, the occurrences
    of ad_hoc obligations), whose labels name no year."""
    ad_hoc = sorted(k for k, ob in app.obligations.items() if ob.schedule.kind == "ad_hoc")
    with app.session() as session:
        u = app.unit(session, unit)
        prefix = f"{year:04d}"
        dated = col(Occurrence.event_id).is_not(None) | col(Occurrence.obligation_key).in_(ad_hoc)
        in_year = or_(
            col(Occurrence.period).startswith(prefix) & ~dated,
            dated & (col(Occurrence.due) >= date(year, 1, 1)) & (col(Occurrence.due) <= date(year, 12, 31)),
        )
        items = _load(app, session, Occurrence.unit_code == u.code, in_year, as_of=as_of)
        items += [i for i in _virtual(app, session, [year], date.min, date.max, as_of, u.code)
                  if i.occ.period.startswith(prefix)]
    items.sort(key=_sort_key)
    rows = [_row(i, as_of, days_overdue=i.status.days_overdue,
                 days_left=_days_left(i, as_of) if i.status.state in ("open", "upcoming") else 0,
                 progress=progress_text(i.status, i.occ.due, as_of))
            for i in items]
    return UnitYear(u.code, u.name, year, rows)


def calendar(app: "App", start: date, end: date, as_of: date, unit: str | None = None) -> list[dict[str, Any]]:
    """Occurrences falling due in [start, end], with status on `as_of` and the citation."""
    if end < start:
        raise UserInputError(f"--to ({end}) 早于 --from ({start})")
    with app.session() as session:
        _check_unit(app, session, unit)
        items = _load(app, session, col(Occurrence.due) >= start, col(Occurrence.due) <= end,
                      *_unit_condition(unit), as_of=as_of)
        items += _virtual(app, session, range(start.year - 1, end.year + 1), start, end, as_of, unit)
    items.sort(key=_sort_key)
    return [_row(i, as_of, citation=citation_text(i.ob)) for i in items]


# --------------------------------------------------------------------------- catalogue

SCHEDULE_WORDS = {
    "monthly": "每月", "quarterly": "每季度", "half_yearly": "每半年", "yearly": "每年",
    "kept_current": "常态（每年检查）", "semester": "每学期", "season": "每个时段",
    "event": "每次活动", "ad_hoc": "督办",
}
XUN_WORDS = {"early": "上旬", "mid": "中旬", "late": "下旬"}


def deadline_text(ob: Obligation) -> str:
    """The deadline rule in a few Chinese words ("末月15日", "第3个月中旬", "活动前20个工作日")."""
    d = ob.deadline
    rule = d.rule
    month = getattr(d, "month", None)
    which = "末月" if month is None else f"第{month}个月"
    if rule == "period_end":
        text = "期末"
    elif rule == "day_in_last_month":
        text = f"末月{d.day}日"
    elif rule == "xun":
        text = which + XUN_WORDS.get(d.xun, d.xun)
    elif rule == "in_month":
        text = which + "内"
    elif rule == "fixed":
        text = f"{d.month}月{d.day}日"
    elif rule == "workdays_before_event":
        text = f"活动前{d.workdays}个工作日"
    elif rule in ("before_anchor", "after_anchor"):
        side = "前" if rule == "before_anchor" else "后"
        amount = f"{d.workdays}个工作日" if d.workdays is not None else f"{1 if d.days is None else d.days}天"
        text = f"会议{side}{amount}"
    else:
        params = ", ".join(f"{f.name}={getattr(d, f.name)}" for f in fields(d))
        text = f"{rule}({params})"
    if d.roll == "next_workday":
        text += "（遇休顺延）"
    elif d.roll == "previous_workday":
        text += "（遇休提前）"
    return text


def catalogue(app: "App", pack: str | None = None) -> list[dict[str, Any]]:
    """The enabled obligations with schedule, deadline and citation, sorted by key."""
    if pack is not None and pack not in {p.name for p in app.packs}:
        raise UserInputError(f"未启用的规则包：{pack}（已启用：{', '.join(p.name for p in app.packs)}）")
    rows = []
    for ob in app.obligations.values():
        if pack is not None and ob.pack != pack:
            continue
        rows.append({
            "obligation": ob.key, "pack": ob.pack, "clause": ob.clause, "title": ob.title,
            "applies_to": list(ob.applies_to), "responsible": ob.responsible,
            "schedule": ob.schedule.kind, "deadline": ob.deadline.rule,
            "schedule_text": SCHEDULE_WORDS.get(ob.schedule.kind, ob.schedule.kind),
            "deadline_text": deadline_text(ob), "times": ob.times, "default_date": ob.default_date,
            "anchor": ob.anchor, "citation_source": ob.citation.source,
            "citation_clause": ob.citation.clause, "citation_quote": ob.citation.quote,
            "citation_document": document_name(ob.citation), "citation": cite(ob.citation),
            "applies_to_text": "、".join(unit_kind_name(k) for k in ob.applies_to),
        })
    return sorted(rows, key=lambda r: r["obligation"])


# --------------------------------------------------------------------------- holidays

def year_holidays(cal: "WorkdayCalendar", year: int) -> dict[str, Any]:
    """A year of the working-day calendar: where its data comes from ("user" | "official" |
    "provisional"), its holidays, and the weekend days that are working days (调休上班)."""
    day, end = date(year, 1, 1), date(year, 12, 31)
    holidays, workdays = [], []
    while day <= end:
        name = cal.holiday_name(day)
        if name is not None:
            holidays.append({"date": day, "name": name})
        elif day.weekday() >= 5 and cal.is_workday(day):
            workdays.append({"date": day, "name": "调休上班"})
        day += timedelta(days=1)
    return {"year": year, "source": cal.year_source(year), "holidays": holidays, "workdays": workdays}
