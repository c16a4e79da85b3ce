"""Which reasons make each provisional occurrence provisional (obligations/provisional.py has
the wording): the holiday data of a year its dates are counted in is not published, or the
meeting it hangs on has not been recorded. Read at display time from the occurrence, its
obligation, its event and the recorded meeting dates, so it is always the current reason
(a holiday import or a recorded meeting changes it at once)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from obligations.provisional import HOLIDAYS, MEETING
from scheduler.materialise import anchor_dates
from scheduler.models import Event, Occurrence

if TYPE_CHECKING:
    from scheduler.app import App


def reasons_of(app: "App", session: Session, occs: Iterable[Occurrence]) -> dict[int, tuple[str, ...]]:
    """Occurrence id -> its reasons (in obligations.provisional order), for the provisional
    occurrences among `occs`. One that is flagged provisional but has no reason left (holiday
    data imported since it was materialised) is absent: its date no longer moves."""
    occs = [o for o in occs if o.provisional]
    if not occs:
        return {}
    cal = app.calendar
    event_ids = [o.event_id for o in occs if o.event_id is not None]
    event_days: dict[int, date] = dict(session.exec(
        select(Event.id, Event.date).where(col(Event.id).in_(event_ids))).all()) if event_ids else {}
    meetings: dict[str, dict[str, date]] = {}
    out: dict[int, tuple[str, ...]] = {}
    for occ in occs:
        ob = app.obligations.get(occ.obligation_key)
        reasons = []
        refs = [occ.opens, occ.due]
        if occ.event_id in event_days:
            refs.append(event_days[occ.event_id])
        if ob is not None and ob.anchor:
            if ob.anchor not in meetings:
                meetings[ob.anchor] = anchor_dates(session, ob.anchor)
            recorded = meetings[ob.anchor].get(occ.period)
            if recorded is None:
                reasons.append(MEETING)
            else:
                refs.append(recorded)
        # Working days are counted between the due date and what it is counted from (the
        # event, the meeting) and the window opens before it: a provisional year among them.
        if cal.spans_provisional(min(refs), max(refs)):
            reasons.insert(0, HOLIDAYS)
        if reasons:
            out[occ.id] = tuple(reasons)
    return out
