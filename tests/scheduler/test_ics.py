from datetime import date, datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from scheduler.ics import calendar_ics, occurrence_uid

STAMP = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)


def record(**over):
    r = {
        "unit": "B01", "unit_name": "机电系党支部", "obligation": "jincheng-2020.1.2",
        "title": "向党委宣传部书面汇报意识形态工作（半年）", "period": "2026-H1",
        "opens": date(2026, 1, 1), "due": date(2026, 6, 15), "provisional": False,
        "status": "open", "citation": "002_e020950e72e664f2.txt 考核评分体系 1.2：支部每半年末15日前向党委宣传部书面汇报1次意识形态工作情况",
    }
    r.update(over)
    return r


def events(data: bytes):
    return [c for c in Calendar.from_ical(data).walk() if c.name == "VEVENT"]


def test_one_all_day_event_per_occurrence_on_its_due_date():
    data = calendar_ics([record(), record(unit="B02", unit_name="财务处", due=date(2026, 12, 15), period="2026-H2")], STAMP)
    evs = events(data)
    assert len(evs) == 2
    first = evs[0]
    assert first.decoded("dtstart") == date(2026, 6, 15)
    assert first.decoded("dtend") == date(2026, 6, 16)
    assert str(first["summary"]) == "机电系党支部：向党委宣传部书面汇报意识形态工作（半年）"
    assert "支部每半年末15日前" in str(first["description"])
    assert "期间：2026-H1" in str(first["description"])
    assert evs[1].decoded("dtstart") == date(2026, 12, 15)


def test_uid_is_stable_per_occurrence_and_distinct_between_occurrences():
    a = events(calendar_ics([record()], STAMP))[0]["uid"]
    again = events(calendar_ics([record(due=date(2026, 6, 16))], STAMP + timedelta(days=3)))[0]["uid"]
    other_period = events(calendar_ics([record(period="2026-H2")], STAMP))[0]["uid"]
    other_unit = events(calendar_ics([record(unit="B02")], STAMP))[0]["uid"]
    assert a == again == occurrence_uid("B01", "jincheng-2020.1.2", "2026-H1")
    assert len({a, other_period, other_unit}) == 3


def test_provisional_due_date_is_said_in_summary_and_description():
    ev = events(calendar_ics([record(provisional=True, due=date(2027, 1, 8))], STAMP))[0]
    assert "暂定" in str(ev["summary"])
    assert "节假日安排未公布" in str(ev["description"])


def test_naive_stamp_is_refused():
    with pytest.raises(ValueError):
        calendar_ics([record()], datetime(2026, 6, 1, 9, 0))
