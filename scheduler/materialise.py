"""Materialise occurrences: one row per unit, obligation and period, derived from the packs.

Idempotent: a second run creates nothing. Occurrences are derived data, so when a window
changes (a holiday file for a provisional year was installed, a meeting date was recorded for
an anchor obligation) the row's opens/due/required/provisional are updated in place;
submissions and waivers hang on the row's id and are never touched.

Set-based: the calendar slots of the years asked for go into a temporary table (one row per
unit kind they apply to); the database then counts the rows that exist, updates the windows
that changed and inserts the missing rows of every unit in three statements, so no row is
built in Python (4,000 units x 5 years: 666k rows). Event occurrences are few and go row by row.

Event obligations (`schedule.kind = "event"`) get one occurrence per recorded event, label
`E<event id>`, for the unit that recorded it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, and_, false, func, insert, literal, or_, true,
    update,
)
from sqlmodel import Session, col, select

from obligations.occurrences import Slot, slot_for_event, slots_for_year
from obligations.packs import Obligation
from scheduler.models import Event, Occurrence, Submission, Unit
from scheduler.redelivery import dialect_insert_ignore as _insert_ignore, insert_many_ignore

if TYPE_CHECKING:
    from scheduler.app import App

UNIT_CHUNK = 500                  # unit codes per statement when materialising named units
_SLOT_TABLE = "ccal_slot"         # the temporary table of the slots being materialised
_YEAR_LABEL = re.compile(r"^(\d{4})(?:$|-)")
_WINDOW_FIELDS = ("opens", "due", "required", "provisional")
# The state of an occurrence nothing was recorded for (scheduler/submissions.refresh_occurrences).
_NEW_STATE = {"done": 0, "completed_at": None, "waived": False, "is_open": True, "state_changed_at": None}


@dataclass(frozen=True)
class MaterialiseCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: "MaterialiseCounts") -> "MaterialiseCounts":
        return MaterialiseCounts(self.created + other.created, self.updated + other.updated,
                                 self.unchanged + other.unchanged)


def period_year(label: str) -> int | None:
    """The year a calendar period label starts in ("2026-Q2" -> 2026); None for E12/O3."""
    m = _YEAR_LABEL.match(label)
    return int(m.group(1)) if m else None


def applies_to_unit(ob: Obligation, unit: Unit, propaganda_code: str) -> bool:
    return unit.kind in ob.applies_to or ("propaganda" in ob.applies_to and unit.code == propaganda_code)


def generated_by_calendar(ob: Obligation) -> bool:
    return ob.schedule.kind not in ("event", "ad_hoc")


def anchor_keys(app: "App") -> set[str]:
    """Keys of the obligations whose meeting date anchors others."""
    return {ob.anchor for ob in app.obligations.values() if ob.anchor}


def anchor_dates(session: Session, anchor_key: str) -> dict[str, date]:
    """Recorded meeting date per period label for the anchor obligation `anchor_key`.

    The latest recorded event for a period wins (a re-recorded date is a correction); a period
    without an event takes the earliest effective submission of the meeting obligation (the
    meeting was reported as held on that day)."""
    q = select(Event.label, Event.date).where(Event.obligation_key == anchor_key).order_by(col(Event.id))
    dates: dict[str, date] = {label: d for label, d in session.exec(q).all()}
    sub = (select(Occurrence.period, Submission.id, Submission.submitted_at, Submission.withdrawn)
           .join(Occurrence, col(Occurrence.id) == col(Submission.occurrence_id))
           .where(Occurrence.obligation_key == anchor_key))
    rows = session.exec(sub).all()
    if rows:
        superseded = _superseded_ids(session)
        held: dict[str, date] = {}
        for period, sid, at, withdrawn in rows:
            if withdrawn or sid in superseded:
                continue
            if period not in held or at.date() < held[period]:
                held[period] = at.date()
        for period, d in held.items():
            dates.setdefault(period, d)
    return dates


def _superseded_ids(session: Session) -> set[int]:
    # The record's rules live in scheduler/submissions.py (corrected, withdrawn, returned).
    from scheduler.submissions import superseded_submission_ids
    return superseded_submission_ids(session)


def _target_units(session: Session, units: Sequence[str] | None) -> list[Unit]:
    q = select(Unit).order_by(Unit.code)
    if units is not None:
        q = q.where(col(Unit.code).in_(list(units)))
    return list(session.exec(q).all())


def _slots(app: "App", session: Session, years: Sequence[int]) -> list[Slot]:
    """Every calendar slot of every enabled obligation in `years` (unit-independent)."""
    anchors_cache: dict[str, dict[str, date]] = {}
    slots: list[Slot] = []
    for ob in app.obligations.values():
        if not generated_by_calendar(ob):
            continue
        anchors: Mapping[str, date] = {}
        anchor_ob = None
        if ob.anchor:
            if ob.anchor not in anchors_cache:
                anchors_cache[ob.anchor] = anchor_dates(session, ob.anchor)
            anchors = anchors_cache[ob.anchor]
            anchor_ob = app.obligations.get(ob.anchor)
        for year in years:
            slots.extend(slots_for_year(ob, year, app.calendar, app.context, anchors, anchor_ob=anchor_ob))
    return slots


def materialise(app: "App", years: Iterable[int], units: Sequence[str] | None = None,
                session: Session | None = None, *, create: bool = True,
                due_from: date | None = None, track: bool = True) -> MaterialiseCounts:
    """Create or update the occurrences of `years` for `units` (codes; None: every unit).

    Also refreshes the occurrences of events dated in those years. `create=False` only
    updates rows that exist (after a holiday import: no new past-year rows appear);
    `due_from` creates only rows due on or after that day (last year's autumn semester, due in
    January, but not last year's finished business). `track`: the rows it creates are reminded
    (`Occurrence.tracked`); `track=False` creates them untracked (a late record for a year
    nobody tracks, scheduler/tracking.py). Runs in `session` if given (the caller commits),
    else in its own committed session."""
    years = sorted(set(years))
    if session is None:
        with app.session() as s:
            return materialise(app, years, units, s, create=create, due_from=due_from, track=track)
    targets = _target_units(session, units)
    if not targets or not years:
        return MaterialiseCounts()
    now = app.now()
    slots = _slots(app, session, years)
    counts = MaterialiseCounts()
    if slots:
        table = _slot_table(session, app, slots)
        # Every unit at once; named units (an org import) a chunk of codes at a time.
        chunks = [None] if units is None else \
            [[u.code for u in targets[i:i + UNIT_CHUNK]] for i in range(0, len(targets), UNIT_CHUNK)]
        for codes in chunks:
            counts += _apply_slots(session, table, codes, now, create, due_from, track)
        # Not in a `finally`: after an error the transaction rolls back (the table with it on
        # PostgreSQL), and the next run drops a leftover table first.
        table.drop(session.connection())
    return counts + _materialise_events(app, session, years, [u.code for u in targets], now, create, track)


def _slot_table(session: Session, app: "App", slots: Sequence[Slot]) -> Table:
    """The slots in a temporary table, one row per unit kind they apply to (the configured
    propaganda department by its code): the rows of every unit are then derived, compared and
    inserted by the database in a few set-based statements, not built one by one in Python."""
    table = Table(_SLOT_TABLE, MetaData(), Column("obligation_key", String(100)), Column("period", String(50)),
                  Column("opens", Date), Column("due", Date), Column("required", Integer),
                  Column("provisional", Boolean), Column("kind", String(20)), Column("unit_code", String(32)),
                  prefixes=["TEMPORARY"])
    conn = session.connection()
    table.drop(conn, checkfirst=True)
    table.create(conn)
    rows = []
    for slot in slots:
        window = {"obligation_key": slot.key, "period": slot.period, "opens": slot.opens, "due": slot.due,
                  "required": slot.required, "provisional": slot.provisional}
        for kind in app.obligations[slot.key].applies_to:
            if kind == "propaganda":
                rows.append({**window, "kind": None, "unit_code": app.propaganda_unit})
            else:
                rows.append({**window, "kind": kind, "unit_code": None})
    conn.execute(insert(table), rows)
    return table


def _apply_slots(session: Session, slot: Table, codes: Sequence[str] | None, now,
                 create: bool, due_from: date | None, track: bool) -> MaterialiseCounts:
    """Create the missing rows of every (unit, slot) that applies, update the windows that
    changed, make untracked rows of the slots tracked (`track`). `codes`: only these units."""
    conn = session.connection()
    occ = Occurrence.__table__
    unit = Unit.__table__
    # A row applies when its unit is of a kind the slot names, or is the propaganda department
    # (the same rule as applies_to_unit); rows of units whose kind changed are kept, untouched.
    applies = [or_(unit.c.kind == slot.c.kind, unit.c.code == slot.c.unit_code)]
    if codes is not None:
        applies.append(unit.c.code.in_(codes))
    # The stored row of a (unit, slot), found through the unique (unit_code, obligation_key,
    # period) index. An event's row (period E<id>) never matches a calendar slot's label.
    same = [occ.c.unit_code == unit.c.code, occ.c.obligation_key == slot.c.obligation_key,
            occ.c.period == slot.c.period]
    differs = or_(occ.c.opens != slot.c.opens, occ.c.due != slot.c.due, occ.c.required != slot.c.required,
                  occ.c.provisional != slot.c.provisional)
    existing = conn.execute(select(func.count()).select_from(slot).join(unit, and_(*applies))
                            .join(occ, and_(*same))).scalar_one()
    updated = conn.execute(
        update(occ).where(*same, *applies, differs)
        .values(opens=slot.c.opens, due=slot.c.due, required=slot.c.required, provisional=slot.c.provisional,
                updated_at=now)
        .execution_options(synchronize_session=False)).rowcount if existing else 0
    created = 0
    if create:
        # Insert-or-ignore: a concurrent pass (a tick beside the daemon) may have created some
        # of them a moment ago; losing that race is not an error.
        new = (select(unit.c.code, slot.c.obligation_key, slot.c.period, slot.c.opens, slot.c.due,
                      slot.c.required, slot.c.provisional, literal(now, DateTime), literal(now, DateTime),
                      literal(track, Boolean), literal(0, Integer), literal(False, Boolean), literal(True, Boolean))
               .select_from(slot).join(unit, and_(*applies))
               .where(true() if due_from is None else slot.c.due >= due_from))
        created = conn.execute(_insert_ignore(conn, occ).from_select(
            ["unit_code", "obligation_key", "period", "opens", "due", "required", "provisional", "created_at",
             "updated_at", "tracked", "done", "waived", "is_open"], new)
            # An INSERT's rowcount is read from the driver only when asked (psycopg: -1 after).
            .execution_options(preserve_rowcount=True)).rowcount
    if track and create:   # rows a look or a late record left untracked: tracked now
        untracked = (select(occ.c.id).select_from(slot).join(unit, and_(*applies)).join(occ, and_(*same))
                     .where(occ.c.tracked == false(), true() if due_from is None else occ.c.due >= due_from))
        conn.execute(update(occ).where(occ.c.id.in_(untracked)).values(tracked=True)
                     .execution_options(synchronize_session=False))
    return MaterialiseCounts(created, updated, existing - updated)


def _apply(session: Session, wanted: Mapping[tuple[str, str, str], dict], existing, now,
           create: bool = True, due_from: date | None = None, track: bool = True) -> MaterialiseCounts:
    seen: set[tuple[str, str, str]] = set()
    changes: list[dict] = []
    unchanged = 0
    for oid, unit, key, period, opens, due, required, provisional in existing:
        k = (unit, key, period)
        row = wanted.get(k)
        if row is None:
            continue  # an obligation no longer enabled, or a unit whose kind changed: keep the record
        seen.add(k)
        if (opens, due, required, bool(provisional)) != (row["opens"], row["due"], row["required"], row["provisional"]):
            changes.append({"id": oid, **{f: row[f] for f in _WINDOW_FIELDS}, "updated_at": now})
        else:
            unchanged += 1
    new = [{**row, "created_at": now, "updated_at": now, "tracked": track, **_NEW_STATE}
           for k, row in wanted.items()
           if k not in seen and (due_from is None or row["due"] >= due_from)] if create else []
    created = 0
    if new:
        # Insert-or-ignore: a concurrent pass (a tick beside the daemon, a query) may have
        # created some of them a moment ago; losing that race is not an error.
        created = insert_many_ignore(session, Occurrence, new)
    if changes:
        session.execute(update(Occurrence), changes)
    return MaterialiseCounts(created, len(changes), unchanged)


def event_label(event_id: int) -> str:
    return f"E{event_id}"


def _materialise_events(app: "App", session: Session, years: Sequence[int], unit_codes: Sequence[str],
                        now, create: bool, track: bool = True) -> MaterialiseCounts:
    keys = [k for k, ob in app.obligations.items() if ob.schedule.kind == "event"]
    if not keys:
        return MaterialiseCounts()
    events = session.exec(
        select(Event).where(col(Event.obligation_key).in_(keys))
        .where(col(Event.unit_code).in_(list(unit_codes)))
        .where(col(Event.date) >= date(min(years), 1, 1)).where(col(Event.date) <= date(max(years), 12, 31))
    ).all()
    return _materialise_event_rows(app, session, [e for e in events if e.date.year in years], now, create,
                                   track)


def _materialise_event_rows(app: "App", session: Session, events: Sequence[Event], now,
                            create: bool = True, track: bool = True) -> MaterialiseCounts:
    wanted: dict[tuple[str, str, str], dict] = {}
    for ev in events:
        ob = app.obligations[ev.obligation_key]
        slot = slot_for_event(ob, event_label(ev.id), ev.date, app.calendar)
        wanted[(ev.unit_code, slot.key, slot.period)] = {
            "unit_code": ev.unit_code, "obligation_key": slot.key, "period": slot.period,
            "opens": slot.opens, "due": slot.due, "required": slot.required,
            "provisional": slot.provisional, "event_id": ev.id,
        }
    if not wanted:
        return MaterialiseCounts()
    existing = session.exec(
        select(Occurrence.id, Occurrence.unit_code, Occurrence.obligation_key, Occurrence.period,
               Occurrence.opens, Occurrence.due, Occurrence.required, Occurrence.provisional)
        .where(col(Occurrence.event_id).in_([e.id for e in events]))
    ).all()
    return _apply(session, wanted, existing, now, create, track=track)


def materialise_event(app: "App", session: Session, event: Event) -> Occurrence:
    """The occurrence of one recorded event of an event obligation (created if missing)."""
    _materialise_event_rows(app, session, [event], app.now())
    return session.exec(select(Occurrence).where(Occurrence.event_id == event.id)).one()


def move_dependents(app: "App", session: Session, anchor_key: str, periods: Iterable[str]) -> MaterialiseCounts:
    """After a meeting of `anchor_key` was recorded (or withdrawn) for `periods`: the stored
    occurrences of the obligations anchored on it in those periods get their new window. The
    meeting date is the same for every unit, so this is one UPDATE per dependent obligation and
    period, whatever the number of units (no year is re-materialised)."""
    dependents = [ob for ob in app.obligations.values() if ob.anchor == anchor_key]
    anchor_ob = app.obligations.get(anchor_key)
    if not dependents or anchor_ob is None:
        return MaterialiseCounts()
    anchors = anchor_dates(session, anchor_key)
    now = app.now()
    updated = 0
    for period in sorted(set(periods)):
        year = period_year(period)
        if year is None:
            continue
        for ob in dependents:
            slot = next((s for s in slots_for_year(ob, year, app.calendar, app.context, anchors, anchor_ob=anchor_ob)
                         if s.period == period), None)
            if slot is None:
                continue
            result = session.execute(
                update(Occurrence)
                .where(Occurrence.obligation_key == ob.key, Occurrence.period == period,
                       (col(Occurrence.opens) != slot.opens) | (col(Occurrence.due) != slot.due)
                       | (col(Occurrence.provisional) != slot.provisional))
                .values(opens=slot.opens, due=slot.due, provisional=slot.provisional, updated_at=now)
                .execution_options(synchronize_session=False))
            updated += result.rowcount or 0
    if updated:
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Occurrence) and obj.period in set(periods):
                session.refresh(obj)
    return MaterialiseCounts(0, updated, 0)
