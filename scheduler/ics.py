"""Export occurrences as an iCalendar file that calendar apps import.

One all-day VEVENT per occurrence on its due date (VEVENT rather than VTODO because the
common calendar apps import events but ignore or drop to-dos). The UID is built from
unit, obligation key and period, so re-importing an updated export replaces the old item
instead of duplicating it, even after the database was rebuilt.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from icalendar import Calendar, Event

from scheduler.tables import STATE_WORDS

PRODID = "-//compliance-calendar//ccal//ZH"
UID_DOMAIN = "ccal.compliance-calendar"


def occurrence_uid(unit: str, key: str, period: str) -> str:
    # Hash keeps the UID free of characters some importers choke on, yet stable.
    digest = hashlib.sha1(f"{unit}\x1f{key}\x1f{period}".encode("utf-8")).hexdigest()[:20]
    return f"{digest}@{UID_DOMAIN}"


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def calendar_ics(records: Sequence[Mapping[str, Any]], stamp: datetime,
                 name: str = "意识形态工作责任制 日程") -> bytes:
    """records: calendar query rows (unit, unit_name, obligation, title, period, opens, due,
    provisional, status, citation). stamp: DTSTAMP for every item (the export time)."""
    if stamp.tzinfo is None:
        raise ValueError("stamp must be timezone-aware")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Shanghai")
    for r in records:
        due = _as_date(r["due"])
        ev = Event()
        ev.add("uid", occurrence_uid(r["unit"], r["obligation"], r["period"]))
        ev.add("dtstamp", stamp.astimezone(timezone.utc))
        ev.add("dtstart", due)
        ev.add("dtend", due + timedelta(days=1))
        ev.add("transp", "TRANSPARENT")
        mark = "（暂定）" if r.get("provisional") else ""
        ev.add("summary", f"{r.get('unit_name') or r['unit']}：{r['title']}{mark}")
        lines = [
            f"事项：{r['obligation']}",
            f"期间：{r['period']}",
            f"开始：{_as_date(r['opens']).isoformat()}" if r.get("opens") else None,
            f"截止：{due.isoformat()}" + ("（暂定：节假日安排未公布）" if r.get("provisional") else ""),
            f"状态：{STATE_WORDS.get(r.get('status', ''), r.get('status', ''))}" if r.get("status") else None,
            f"依据：{r['citation']}" if r.get("citation") else None,
        ]
        ev.add("description", "\n".join(x for x in lines if x))
        ev.add("categories", [r["obligation"].split(".", 1)[0]])
        cal.add_component(ev)
    return cal.to_ical()
