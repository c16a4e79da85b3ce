from datetime import date

import pytest

from obligations.deadlines import (
    AfterAnchor,
    BeforeAnchor,
    DayInLastMonth,
    Fixed,
    InMonth,
    PeriodEnd,
    Window,
    WorkdaysBeforeEvent,
    Xun,
)
from obligations.schedules import (
    Context,
    HalfYearlySchedule,
    InvalidField,
    MonthlySchedule,
    Period,
    QuarterlySchedule,
    SemesterSchedule,
    YearlySchedule,
    periods_in_year,
)
from obligations.workdays import WorkdayCalendar

CAL = WorkdayCalendar()  # 2026 official (chinesecalendar), 2027 provisional
CTX = Context()


def periods(schedule, year=2026):
    return periods_in_year(schedule, year, CTX)


def month(year, m):
    return next(p for p in periods(MonthlySchedule(), year) if p.start.month == m)


Q = periods(QuarterlySchedule())
H = periods(HalfYearlySchedule())
Y2026 = periods(YearlySchedule())[0]


def test_month_end_report_is_due_on_the_months_last_day():  # 每月底前
    assert PeriodEnd().window(month(2026, 2), CAL) == Window(date(2026, 2, 1), date(2026, 2, 28), False)


def test_due_date_on_a_sunday_is_kept_as_written_without_roll():
    assert PeriodEnd().window(month(2026, 5), CAL).due == date(2026, 5, 31)  # a Sunday


def test_half_year_report_due_on_the_15th_of_june_and_december():  # 每半年末15日前
    windows = [DayInLastMonth(day=15).window(p, CAL) for p in H]
    assert [(w.opens, w.due) for w in windows] == [
        (date(2026, 1, 1), date(2026, 6, 15)),
        (date(2026, 7, 1), date(2026, 12, 15)),
    ]


def test_day_beyond_the_last_month_end_means_its_last_day():
    assert DayInLastMonth(day=31).window(H[0], CAL).due == date(2026, 6, 30)


def test_quarterly_mid_month_opens_on_the_11th_and_is_due_on_the_20th():  # 3月中旬 ...
    windows = [Xun(xun="mid").window(p, CAL) for p in Q]
    assert [(w.opens, w.due) for w in windows] == [
        (date(2026, 3, 11), date(2026, 3, 20)),
        (date(2026, 6, 11), date(2026, 6, 20)),
        (date(2026, 9, 11), date(2026, 9, 20)),
        (date(2026, 12, 11), date(2026, 12, 20)),
    ]


def test_quarterly_late_month_is_due_on_the_months_last_day():  # 3月下旬 ...
    windows = [Xun(xun="late").window(p, CAL) for p in Q]
    assert [w.due for w in windows] == [date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31)]
    assert windows[0].opens == date(2026, 3, 21)


def test_xun_in_a_chosen_month_of_the_period():
    assert Xun(xun="early", month=1).window(Q[0], CAL) == Window(date(2026, 1, 1), date(2026, 1, 10), False)
    assert Xun(xun="late", month=2).window(Q[0], CAL) == Window(date(2026, 2, 21), date(2026, 2, 28), False)


def test_in_december_is_the_whole_month():
    assert InMonth(month=12).window(Y2026, CAL) == Window(date(2026, 12, 1), date(2026, 12, 31), False)
    assert InMonth().window(Q[1], CAL) == Window(date(2026, 6, 1), date(2026, 6, 30), False)


def test_month_outside_the_period_is_an_error():
    with pytest.raises(ValueError, match="no month 4"):
        InMonth(month=4).window(Q[0], CAL)


def test_fixed_date_in_the_period_year_with_optional_opening_day():
    assert Fixed(month=12, day=31).window(Y2026, CAL) == Window(date(2026, 1, 1), date(2026, 12, 31), False)
    assert Fixed(month=3, day=1, opens="02-01").window(Y2026, CAL) == Window(date(2026, 2, 1), date(2026, 3, 1), False)


def test_fixed_january_in_the_autumn_semester_is_the_following_january():
    autumn = periods(SemesterSchedule(which=("autumn",)))[0]
    assert Fixed(month=1, day=10).window(autumn, CAL).due == date(2027, 1, 10)


def test_fixed_29_february_falls_back_to_the_28th_outside_leap_years():
    assert Fixed(month=2, day=29).window(Y2026, CAL).due == date(2026, 2, 28)


@pytest.mark.parametrize(
    "event, due",
    [(date(2026, 10, 12), date(2026, 9, 8)), (date(2026, 3, 2), date(2026, 1, 27))],  # DOMAIN.md examples
)
def test_twenty_working_days_before_the_event(event, due):
    w = WorkdaysBeforeEvent(workdays=20).window(Period("E1", event, event), CAL, anchor=event)
    assert w.due == due
    assert w.opens == date.fromordinal(due.toordinal() - 30)  # registration unknown: default lead
    assert w.provisional is False


def test_event_rule_without_the_event_date_is_an_error():
    with pytest.raises(ValueError, match="event date"):
        WorkdaysBeforeEvent(workdays=20).window(Period("E1", date(2026, 3, 2), date(2026, 3, 2)), CAL)


def test_report_due_the_day_before_the_anchor_meeting_by_default():
    w = BeforeAnchor().window(Q[0], CAL, anchor=date(2026, 3, 16))
    assert w == Window(date(2026, 1, 1), date(2026, 3, 15), False)


def test_report_due_working_days_before_the_anchor_meeting():
    # Meeting Monday 2026-03-16: 3 working days back (meeting day not counted) is Wednesday 03-11.
    assert BeforeAnchor(workdays=3).window(Q[0], CAL, anchor=date(2026, 3, 16)).due == date(2026, 3, 11)


def test_situation_report_after_the_anchor_meeting():
    assert AfterAnchor(days=7).window(Q[0], CAL, anchor=date(2026, 3, 16)) == Window(
        date(2026, 3, 16), date(2026, 3, 23), False
    )
    # Meeting Wed 2026-09-30: 5 working days after skip National Day (10-01..10-07) and count
    # the adjusted working Saturday 10-10: 10-08, 10-09, 10-10, 10-12, 10-13.
    w = AfterAnchor(workdays=5).window(Q[2], CAL, anchor=date(2026, 9, 30))
    assert w.due == date(2026, 10, 13)


def test_window_never_opens_after_it_is_due():
    w = BeforeAnchor(days=3).window(Q[0], CAL, anchor=date(2026, 1, 2))
    assert w.opens == w.due == date(2025, 12, 30)


def test_anchor_rules_need_the_anchor_date():
    with pytest.raises(ValueError, match="anchor"):
        BeforeAnchor().window(Q[0], CAL)


def test_roll_moves_a_weekend_due_date_to_the_next_or_previous_working_day():
    may = month(2026, 5)  # 2026-05-31 is a Sunday
    assert PeriodEnd(roll="next_workday").window(may, CAL).due == date(2026, 6, 1)
    assert PeriodEnd(roll="previous_workday").window(may, CAL).due == date(2026, 5, 29)


def test_roll_keeps_an_adjusted_saturday_working_day():
    # Saturday 2026-02-28 is a 调休 working day in the State Council's 2026 schedule.
    assert PeriodEnd(roll="next_workday").window(month(2026, 2), CAL).due == date(2026, 2, 28)


def test_roll_over_the_national_day_holiday():
    assert Fixed(month=10, day=1, roll="next_workday").window(Y2026, CAL).due == date(2026, 10, 8)
    assert Fixed(month=10, day=1, roll="previous_workday").window(Y2026, CAL).due == date(2026, 9, 30)


def test_opens_days_before_counts_back_from_the_rolled_due_date():
    w = PeriodEnd(roll="next_workday", opens_days_before=5).window(month(2026, 5), CAL)
    assert (w.opens, w.due) == (date(2026, 5, 27), date(2026, 6, 1))


def test_provisional_when_a_working_day_computation_touches_a_provisional_year():
    q1_2027 = periods(QuarterlySchedule(), 2027)[0]
    assert CAL.is_provisional(date(2027, 3, 31))  # guard: the package has no 2027 data
    assert PeriodEnd().window(q1_2027, CAL).provisional is False  # calendar dates only
    assert PeriodEnd(roll="next_workday").window(q1_2027, CAL).provisional is True
    event = date(2027, 3, 15)
    w = WorkdaysBeforeEvent(workdays=5).window(Period("E2", event, event), CAL, anchor=event)
    assert (w.due, w.provisional) == (date(2027, 3, 8), True)
    assert BeforeAnchor(workdays=1).window(q1_2027, CAL, anchor=event).provisional is True
    assert AfterAnchor(workdays=1).window(q1_2027, CAL, anchor=event).provisional is True
    assert AfterAnchor(days=1).window(q1_2027, CAL, anchor=event).provisional is False


def test_roll_across_the_year_boundary_is_provisional_if_either_year_is():
    dec = month(2026, 12)  # due Thursday 2026-12-31, a working day: nothing provisional touched
    assert PeriodEnd(roll="next_workday").window(dec, CAL).provisional is False
    # 2027-01-01 (New Year's Day, provisional year) rolled back into official 2026.
    w = Fixed(month=1, day=1, roll="previous_workday").window(periods(YearlySchedule(), 2027)[0], CAL)
    assert (w.due, w.provisional) == (date(2026, 12, 31), True)


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: Xun(xun="middle"), "xun"),
        (lambda: Xun(xun="mid", month=13), "month"),
        (lambda: DayInLastMonth(day=0), "day"),
        (lambda: DayInLastMonth(day=32), "day"),
        (lambda: DayInLastMonth(day=True), "day"),
        (lambda: Fixed(month=4, day=31), "day"),
        (lambda: Fixed(month=4, day=1, opens="4-1"), "opens"),
        (lambda: PeriodEnd(roll="nearest"), "roll"),
        (lambda: PeriodEnd(opens_days_before=-1), "opens_days_before"),
        (lambda: WorkdaysBeforeEvent(workdays=0), "workdays"),
        (lambda: BeforeAnchor(days=1, workdays=1), "workdays"),
        (lambda: AfterAnchor(), "days"),
    ],
)
def test_bad_rule_values_name_the_field(build, field):
    with pytest.raises(InvalidField) as exc:
        build()
    assert exc.value.field == field
