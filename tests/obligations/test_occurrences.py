from datetime import date, datetime, timezone

import pytest

from obligations.deadlines import AfterAnchor, BeforeAnchor, DayInLastMonth, PeriodEnd, WorkdaysBeforeEvent, Xun
from obligations.occurrences import Slot, Status, occurrence_status, slot_for_event, slots_for_year
from obligations.packs import Citation, Obligation
from obligations.schedules import (
    Context,
    EventSchedule,
    HalfYearlySchedule,
    MonthlySchedule,
    QuarterlySchedule,
    Semester,
    SemesterSchedule,
    YearlySchedule,
)
from obligations.workdays import WorkdayCalendar

CAL = WorkdayCalendar()
CTX = Context()


def ob(key, schedule, deadline, times=1, anchor=None):
    return Obligation(
        key=key, pack="t", clause="1", title="测试", citation=Citation("seed.txt", "1", "引文"),
        applies_to=("branch",), responsible="secretary", schedule=schedule, deadline=deadline,
        times=times, anchor=anchor,
    )  # fmt: skip


HALF_YEAR_REPORT = ob("t.report", HalfYearlySchedule(), DayInLastMonth(day=15))
MEETING = ob("t.meeting", QuarterlySchedule(), Xun(xun="mid"))
BEFORE = ob("t.before", QuarterlySchedule(), BeforeAnchor(), anchor="t.meeting")
AFTER = ob("t.after", QuarterlySchedule(), AfterAnchor(days=7), anchor="t.meeting")
LECTURE = ob("t.lecture", EventSchedule(), WorkdaysBeforeEvent(workdays=20))


# ---------------------------------------------------------------------------------------------
# Slots


def test_half_year_report_slots_for_2026():
    assert slots_for_year(HALF_YEAR_REPORT, 2026, CAL, CTX) == [
        Slot("t.report", "2026-H1", date(2026, 1, 1), date(2026, 6, 15), 1, False),
        Slot("t.report", "2026-H2", date(2026, 7, 1), date(2026, 12, 15), 1, False),
    ]


def test_monthly_slots_and_count_based_requirement():
    slots = slots_for_year(ob("t.m", MonthlySchedule(), PeriodEnd(), times=2), 2026, CAL, CTX)
    assert len(slots) == 12
    assert (slots[1].period, slots[1].due, slots[1].required) == ("2026-02", date(2026, 2, 28), 2)


def test_semester_slots_follow_the_institutions_dates():
    ctx = Context(semesters=(Semester("2026-autumn", date(2026, 8, 31), date(2027, 1, 15)),))
    slots = slots_for_year(ob("t.s", SemesterSchedule(), PeriodEnd()), 2026, CAL, ctx)
    assert [(s.period, s.opens, s.due) for s in slots] == [
        ("2026-spring", date(2026, 2, 25), date(2026, 7, 10)),
        ("2026-autumn", date(2026, 8, 31), date(2027, 1, 15)),
    ]


def test_anchor_rule_uses_the_recorded_meeting_and_falls_back_to_its_due_date():
    anchors = {"2026-Q1": date(2026, 3, 16)}  # Q1 meeting recorded; the others not yet
    slots = slots_for_year(BEFORE, 2026, CAL, CTX, anchors, anchor_ob=MEETING)
    assert [(s.period, s.due, s.provisional) for s in slots] == [
        ("2026-Q1", date(2026, 3, 15), False),
        ("2026-Q2", date(2026, 6, 19), True),  # the day before the meeting's own due date 06-20
        ("2026-Q3", date(2026, 9, 19), True),
        ("2026-Q4", date(2026, 12, 19), True),
    ]
    after = slots_for_year(AFTER, 2026, CAL, CTX, anchors, anchor_ob=MEETING)
    assert [(s.opens, s.due, s.provisional) for s in after[:2]] == [
        (date(2026, 3, 16), date(2026, 3, 23), False),
        (date(2026, 6, 20), date(2026, 6, 27), True),
    ]


def test_anchor_rule_needs_the_meeting_date_or_the_anchor_obligation():
    with pytest.raises(ValueError, match="t.before: no meeting date recorded for 2026-Q1"):
        slots_for_year(BEFORE, 2026, CAL, CTX)
    # With every period recorded, no fallback is needed.
    all_recorded = {f"2026-Q{i}": date(2026, 3 * i, 16) for i in range(1, 5)}
    assert len(slots_for_year(BEFORE, 2026, CAL, CTX, all_recorded)) == 4


def test_wrong_anchor_obligation_is_rejected():
    with pytest.raises(ValueError, match="anchored on t.meeting"):
        slots_for_year(BEFORE, 2026, CAL, CTX, anchor_ob=HALF_YEAR_REPORT)


def test_event_obligations_have_no_calendar_slots_but_one_per_event():
    assert slots_for_year(LECTURE, 2026, CAL, CTX) == []
    assert slot_for_event(LECTURE, "E12", date(2026, 10, 12), CAL) == Slot(
        "t.lecture", "E12", date(2026, 8, 9), date(2026, 9, 8), 1, False  # opens 30 days before due
    )


def test_event_slot_in_a_provisional_year_is_provisional():
    assert slot_for_event(LECTURE, "E13", date(2027, 3, 15), CAL).provisional is True


def test_slot_for_event_refuses_calendar_obligations():
    with pytest.raises(ValueError, match="not 'event'"):
        slot_for_event(HALF_YEAR_REPORT, "E1", date(2026, 3, 1), CAL)


def test_slots_in_2027_with_a_roll_are_provisional():
    slots = slots_for_year(ob("t.y", YearlySchedule(), PeriodEnd(roll="next_workday")), 2027, CAL, CTX)
    assert [(s.due, s.provisional) for s in slots] == [(date(2027, 12, 31), True)]


# ---------------------------------------------------------------------------------------------
# Status

OPENS, DUE = date(2026, 3, 11), date(2026, 3, 20)  # a mid-March joint meeting


def status(as_of, submitted=(), required=1, waived=False):
    return occurrence_status(OPENS, DUE, required, list(submitted), waived, as_of)


def test_upcoming_before_the_window_opens():
    assert status(date(2026, 3, 10)) == Status("upcoming", 0, 1, 0, None)


def test_open_from_the_first_to_the_last_day_of_the_window():
    assert status(OPENS).state == "open"
    assert status(DUE).state == "open"


def test_overdue_from_the_day_after_the_due_date_counting_calendar_days():
    assert status(date(2026, 3, 21)) == Status("overdue", 0, 1, 1, None)
    assert status(date(2026, 3, 30)).days_overdue == 10


def test_done_when_submitted_by_the_end_of_the_due_date():
    at = datetime(2026, 3, 20, 23, 59)
    assert status(date(2026, 4, 1), [at]) == Status("done", 1, 1, 0, at)


def test_submission_after_the_due_date_is_late_and_stays_late():
    at = datetime(2026, 3, 22, 9, 0)
    assert status(date(2026, 3, 22), [at]) == Status("late", 1, 1, 2, at)
    assert status(date(2026, 12, 31), [at]).state == "late"


def test_waived_wins_over_overdue_and_done():
    assert status(date(2026, 4, 1), waived=True).state == "waived"
    assert status(date(2026, 4, 1), [datetime(2026, 3, 12)], waived=True).state == "waived"


def test_count_based_shows_progress_and_completes_with_the_nth_submission():
    subs = [datetime(2026, 3, 12), datetime(2026, 3, 11)]
    s = status(date(2026, 3, 15), subs, required=6)
    assert (s.state, s.done, s.required) == ("open", 2, 6)  # "2 of 6"
    assert status(date(2026, 3, 25), subs, required=6) == Status("overdue", 2, 6, 5, None)
    six = subs + [datetime(2026, 3, d) for d in (13, 14, 15)] + [datetime(2026, 3, 24)]
    assert status(date(2026, 3, 25), six, required=6) == Status("late", 6, 6, 4, datetime(2026, 3, 24))
    seven = six + [datetime(2026, 3, 16)]  # the 6th in time order is now 03-16: done on time
    assert status(date(2026, 3, 25), seven, required=6) == Status("done", 6, 6, 0, datetime(2026, 3, 16))


def test_aware_times_are_compared_as_local_shanghai_dates():
    just_in = datetime(2026, 3, 20, 15, 59, tzinfo=timezone.utc)  # 23:59 in Shanghai
    just_late = datetime(2026, 3, 20, 16, 1, tzinfo=timezone.utc)  # 00:01 on 03-21 in Shanghai
    assert status(date(2026, 3, 25), [just_in]).state == "done"
    assert status(date(2026, 3, 25), [just_late]).state == "late"


def test_submissions_after_as_of_do_not_count_yet():
    assert status(date(2026, 3, 15), [datetime(2026, 3, 18)]).state == "open"


def test_required_must_be_positive():
    with pytest.raises(ValueError, match="required"):
        status(date(2026, 3, 15), required=0)
