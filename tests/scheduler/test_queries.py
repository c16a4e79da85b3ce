from datetime import date, datetime

import pytest

from scheduler.app import UserInputError
from scheduler.queries import (
    calendar, catalogue, deadline_text, overdue, progress_text, unit_year, upcoming, year_holidays,
)
from scheduler.submissions import record_event, submit, waive
from obligations.occurrences import Status


def keyed(rows):
    return {(r["unit"], r["obligation"], r["period"]): r for r in rows}


def test_overdue_lists_open_occurrences_past_due_with_days_overdue(tracking_app):
    submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 14, 9, 0))
    rows = keyed(overdue(tracking_app, date(2026, 6, 20)))
    jdx = rows[("JDX", "tpack.report", "2026-H1")]
    assert jdx == {
        "unit": "JDX", "unit_name": "机电工程系党支部", "obligation": "tpack.report",
        "title": "向党委宣传部书面汇报意识形态工作（半年）", "period": "2026-H1",
        "opens": date(2026, 1, 1), "due": date(2026, 6, 15), "provisional": False, "provisional_reasons": [],
        "status": "overdue", "done": 0, "required": 1, "days_overdue": 5,
    }
    assert ("LTX", "tpack.report", "2026-H1") not in rows          # submitted on time
    # Overdue from the day after the due date, not on it.
    assert ("JDX", "tpack.report", "2026-H1") not in keyed(overdue(tracking_app, date(2026, 6, 15)))


def test_overdue_for_one_unit_and_sorted_by_due_date(tracking_app):
    rows = overdue(tracking_app, date(2026, 7, 1), unit="JWC")
    assert {r["unit"] for r in rows} == {"JWC"}
    assert [r["due"] for r in rows] == sorted(r["due"] for r in rows)
    assert [(r["obligation"], r["period"]) for r in rows] == [
        ("tpack.festival", "2026"), ("tpack.meeting.report", "2026-Q1"), ("tpack.meeting.report", "2026-Q2")]
    with pytest.raises(UserInputError, match="NOPE"):
        overdue(tracking_app, date(2026, 7, 1), unit="NOPE")


def test_overdue_merges_stored_and_computed_rows_in_due_order_across_chunks(tracking_app, monkeypatch):
    # 2026 is recorded (stored rows); 2025 is not: its autumn semester, due in January 2026,
    # is computed on the fly. The stored rows stream in chunks; the two merge by due date.
    import scheduler.queries as q
    from scheduler.tracking import materialise_years

    materialise_years(tracking_app, [2026])
    whole = overdue(tracking_app, date(2026, 2, 20))
    monkeypatch.setattr(q._stream, "__kwdefaults__", {"chunk": 1})
    rows = overdue(tracking_app, date(2026, 2, 20))
    assert rows == whole
    assert [(r["obligation"], r["unit"]) for r in rows] == [
        ("tpack.teach", "DW"), ("tpack.festival", "JWC"), ("tpack.festival", "XCB")]
    assert [r["due"] for r in rows] == sorted(r["due"] for r in rows)


def test_late_and_waived_occurrences_are_not_overdue(tracking_app):
    submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 6, 18, 9, 0))
    waive(tracking_app, "tpack.report", "JDX", "2026-H1", "支部换届")
    assert not [r for r in overdue(tracking_app, date(2026, 6, 20)) if r["obligation"] == "tpack.report"]


def test_upcoming_lists_what_falls_due_within_the_days(tracking_app):
    # Due 15 June: 14 days ahead of 1 June is the last day that still includes it.
    assert upcoming(tracking_app, date(2026, 6, 1), days=13, unit="LTX") == []
    rows = keyed(upcoming(tracking_app, date(2026, 6, 1), days=14))
    r = rows[("LTX", "tpack.report", "2026-H1")]
    assert (r["status"], r["due"], r["days_left"]) == ("open", date(2026, 6, 15), 14)
    assert ("JWC", "tpack.meeting.report", "2026-Q2") not in rows          # due 29 June
    assert {k[0] for k in keyed(upcoming(tracking_app, date(2026, 6, 1), days=14, unit="LTX"))} == {"LTX"}


def test_upcoming_crosses_the_new_year_and_marks_provisional_dates(tracking_app):
    rows = keyed(upcoming(tracking_app, date(2026, 12, 20), days=60, unit="JWC"))
    festival = rows[("JWC", "tpack.festival", "2027")]
    # Opens on 1 January: not started yet on 20 December.
    assert (festival["due"], festival["provisional"], festival["status"]) == (date(2027, 2, 9), True, "upcoming")


def test_upcoming_in_january_includes_last_years_autumn_semester_but_not_its_finished_business(tracking_app):
    rows = keyed(upcoming(tracking_app, date(2027, 1, 5), days=30))
    autumn = rows[("DW", "tpack.teach", "2026-autumn")]
    assert (autumn["opens"], autumn["due"]) == (date(2026, 9, 1), date(2027, 1, 20))
    # Nothing due before the window was created for 2026 by this query.
    assert overdue(tracking_app, date(2027, 1, 5)) == []


def test_upcoming_leaves_out_what_is_already_done(tracking_app):
    submit(tracking_app, "tpack.report", "LTX", "2026-H1", at=datetime(2026, 5, 30, 9, 0))
    rows = keyed(upcoming(tracking_app, date(2026, 6, 1), days=20))
    assert ("LTX", "tpack.report", "2026-H1") not in rows
    assert ("JDX", "tpack.report", "2026-H1") in rows


def test_unit_year_counts_states_and_progress(tracking_app):
    for day in (3, 5):
        submit(tracking_app, "tpack.study", "JDX", "2026", at=datetime(2026, 4, day, 9, 0))
    submit(tracking_app, "tpack.report", "JDX", "2026-H1", at=datetime(2026, 6, 18, 9, 0))
    waive(tracking_app, "tpack.meeting.report", "JDX", "2026-Q1", "会议取消")
    lecture = record_event(tracking_app, "tpack.lecture", "JDX", date(2026, 12, 10))
    result = unit_year(tracking_app, "JDX", 2026, date(2026, 11, 21))
    rows = {(r["obligation"], r["period"]): r for r in result.rows}
    study = rows[("tpack.study", "2026")]
    assert (study["status"], study["done"], study["required"], study["days_left"]) == ("open", 2, 3, 40)
    assert study["progress"] == "已完成 2/3，剩余 40 天"
    assert rows[("tpack.report", "2026-H1")]["status"] == "late"
    assert rows[("tpack.report", "2026-H2")]["status"] == "open"
    assert rows[("tpack.meeting.report", "2026-Q1")]["status"] == "waived"
    assert rows[("tpack.meeting.report", "2026-Q2")]["status"] == "overdue"
    assert rows[("tpack.lecture", lecture.occurrence.period)]["due"] == date(2026, 11, 12)
    assert rows[("tpack.lecture", lecture.occurrence.period)]["status"] == "overdue"
    # late: report H1; open: report H2, study, meeting report Q4; overdue: Q2, Q3, lecture.
    assert result.totals == {"done": 0, "late": 1, "open": 3, "overdue": 3, "waived": 1, "upcoming": 0}
    assert (result.unit, result.unit_name) == ("JDX", "机电工程系党支部")


def test_progress_text():
    assert progress_text(Status("open", 2, 6, 0, None), date(2026, 12, 31), date(2026, 11, 21)) == "已完成 2/6，剩余 40 天"
    assert progress_text(Status("overdue", 0, 1, 3, None), date(2026, 6, 15), date(2026, 6, 18)) == "已完成 0/1，已逾期 3 天"
    assert progress_text(Status("late", 1, 1, 2, None), date(2026, 6, 15), date(2026, 7, 1)) == "已完成 1/1，逾期 2 天完成"
    assert progress_text(Status("waived", 0, 1, 0, None), date(2026, 6, 15), date(2026, 7, 1)) == "已豁免"


def test_calendar_rows_carry_the_citation_and_stay_in_range(tracking_app):
    rows = calendar(tracking_app, date(2026, 6, 1), date(2026, 6, 30), date(2026, 6, 1), unit="LTX")
    assert [(r["obligation"], r["period"], r["due"]) for r in rows] == [("tpack.report", "2026-H1", date(2026, 6, 15))]
    # This pack names no document for its source: the file name stands in (obligations.citations).
    assert rows[0]["citation"] == "002_e020950e72e664f2.txt 考核评分体系 1.2：「支部每半年末15日前向党委宣传部书面汇报1次意识形态工作情况」"
    with pytest.raises(UserInputError):
        calendar(tracking_app, date(2026, 6, 30), date(2026, 6, 1), date(2026, 6, 1))


def test_catalogue_lists_obligations_with_citations(tracking_app):
    rows = {r["obligation"]: r for r in catalogue(tracking_app, "tpack")}
    assert len(rows) == 7
    r = rows["tpack.report"]
    assert (r["schedule"], r["deadline_text"], r["citation_clause"], r["default_date"]) == \
        ("half_yearly", "末月15日", "考核评分体系 1.2", False)
    assert rows["tpack.lecture"]["deadline_text"] == "活动前20个工作日"
    assert rows["tpack.festival"]["deadline_text"] == "2月7日（遇休顺延）"
    assert rows["tpack.meeting.report"]["deadline_text"] == "会议前1天"
    assert deadline_text(tracking_app.obligations["tpack.study"]) == "期末"
    with pytest.raises(UserInputError, match="nopack"):
        catalogue(tracking_app, "nopack")


def test_year_holidays_names_the_source(tracking_app):
    cal = tracking_app.calendar
    y2026 = year_holidays(cal, 2026)
    assert y2026["source"] == "official"
    assert {"date": date(2026, 10, 1), "name": "国庆节"} in y2026["holidays"]
    assert y2026["workdays"] and all(d["date"].weekday() >= 5 for d in y2026["workdays"])
    y2027 = year_holidays(cal, 2027)
    assert y2027["source"] == "provisional" and y2027["workdays"] == []
    assert {"date": date(2027, 2, 5), "name": "春节"} in y2027["holidays"]
