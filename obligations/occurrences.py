"""Occurrence slots (one obligation in one period) and their status on a given day. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from obligations.schedules import Context, Period, periods_in_year

if TYPE_CHECKING:
    from obligations.packs import Obligation
    from obligations.workdays import WorkdayCalendar

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_NO_ANCHORS: Mapping[str, date] = MappingProxyType({})


@dataclass(frozen=True)
class Slot:
    key: str  # obligation key
    period: str  # period label: 2026-Q2, 2026-autumn, E12 ...
    opens: date
    due: date
    required: int  # submissions needed (the obligation's `times`)
    provisional: bool  # the dates may still move (provisional holiday year, or anchor not yet recorded)


def slots_for_year(
    ob: Obligation,
    year: int,
    cal: WorkdayCalendar,
    ctx: Context,
    anchors: Mapping[str, date] = _NO_ANCHORS,
    *,
    anchor_ob: Obligation | None = None,
) -> list[Slot]:
    """The obligation's slots for the periods starting in ``year``.

    Event and ad-hoc obligations have no calendar periods: this returns ``[]`` for them (use
    :func:`slot_for_event`; orders carry their own dates).

    For ``before_anchor``/``after_anchor`` rules, ``anchors`` maps a period label to the date
    recorded for the anchor meeting in that period. Periods with no recorded date fall back to
    the anchor obligation's own due date for that period, so the caller passes that obligation
    as ``anchor_ob`` (``ob.anchor`` names it; the loader guarantees it has the same schedule and
    a rule that needs no anchor); such slots are marked provisional. Without ``anchor_ob`` a
    missing anchor date is a ``ValueError``.
    """
    if anchor_ob is not None and anchor_ob.key != ob.anchor:
        raise ValueError(f"{ob.key} is anchored on {ob.anchor}, not {anchor_ob.key}")
    if ob.schedule.kind in ("event", "ad_hoc"):
        return []
    slots = []
    for period in periods_in_year(ob.schedule, year, ctx):
        anchor, fallback = None, False
        if ob.deadline.needs_anchor:
            anchor = anchors.get(period.label)
            if anchor is None:
                if anchor_ob is None:
                    raise ValueError(
                        f"{ob.key}: no meeting date recorded for {period.label} and no anchor obligation given"
                    )
                anchor, fallback = anchor_ob.deadline.window(period, cal).due, True
        w = ob.deadline.window(period, cal, anchor)
        slots.append(Slot(ob.key, period.label, w.opens, w.due, ob.times, w.provisional or fallback))
    return slots


def slot_for_event(ob: Obligation, label: str, event_date: date, cal: WorkdayCalendar) -> Slot:
    """The slot of an event-scheduled obligation for one recorded event (label ``E<id>``).

    The period is the event day; with ``workdays_before_event`` the due date is the N-th working
    day before it and the window opens ``deadlines.DEFAULT_EVENT_LEAD_DAYS`` (30) days before
    the due date, because the core does not know when the event was registered (the pack may
    set ``opens_days_before`` instead).
    """
    if ob.schedule.kind != "event":
        raise ValueError(f"{ob.key} has schedule {ob.schedule.kind!r}, not 'event'")
    w = ob.deadline.window(Period(label, event_date, event_date), cal, anchor=event_date)
    return Slot(ob.key, label, w.opens, w.due, ob.times, w.provisional)


@dataclass(frozen=True)
class Status:
    state: str  # upcoming | open | overdue | done | late | waived
    done: int  # qualifying submissions so far, at most `required` ("2 of 6")
    required: int
    days_overdue: int  # overdue: days since due; late: days it was late; else 0
    completed_at: datetime | None  # local time of the submission that completed it (done/late)


def occurrence_status(
    opens: date,
    due: date,
    required: int,
    submitted_at: Sequence[datetime],
    waived: bool,
    as_of: date,
    *,
    tz: tzinfo = LOCAL_TZ,
) -> Status:
    """Status of one occurrence on ``as_of``.

    Waived wins. Otherwise the occurrence is complete when it has ``required`` submissions: the
    ``required``-th one (in time order) decides done (on or before the due date) or late (after
    it; a late occurrence stays late). Incomplete: overdue from the day after the due date,
    open from ``opens`` to ``due``, upcoming before ``opens``. Dates are compared in local time:
    naive datetimes are local wall-clock time, aware ones are converted to ``tz``. Submissions
    dated after ``as_of`` do not count yet (status as it stood on that day).
    """
    if required < 1:
        raise ValueError(f"required must be >= 1, got {required}")
    local = sorted(_local(t, tz) for t in submitted_at)
    local = [t for t in local if t.date() <= as_of]
    done = min(len(local), required)
    if waived:
        return Status("waived", done, required, 0, None)
    if len(local) >= required:
        completed = local[required - 1]
        late_by = (completed.date() - due).days
        if late_by <= 0:
            return Status("done", done, required, 0, completed)
        return Status("late", done, required, late_by, completed)
    if as_of > due:
        return Status("overdue", done, required, (as_of - due).days, None)
    if as_of >= opens:
        return Status("open", done, required, 0, None)
    return Status("upcoming", done, required, 0, None)


def _local(t: datetime, tz: tzinfo) -> datetime:
    return t if t.tzinfo is None else t.astimezone(tz).replace(tzinfo=None)
