from datetime import date

import pytest

from obligations.schedules import (
    AdHocSchedule,
    Context,
    EventSchedule,
    HalfYearlySchedule,
    InvalidField,
    KeptCurrentSchedule,
    MonthlySchedule,
    Period,
    QuarterlySchedule,
    Season,
    SeasonSchedule,
    Semester,
    SemesterDefaults,
    SemesterSchedule,
    YearlySchedule,
    periods_in_year,
)

CTX = Context()


def spans(periods):
    return [(p.label, p.start, p.end) for p in periods]


def test_monthly_periods_cover_each_month_with_its_real_length():
    periods = periods_in_year(MonthlySchedule(), 2026, CTX)
    assert len(periods) == 12
    assert periods[1] == Period("2026-02", date(2026, 2, 1), date(2026, 2, 28))
    assert periods[11] == Period("2026-12", date(2026, 12, 1), date(2026, 12, 31))
    assert periods_in_year(MonthlySchedule(), 2028, CTX)[1].end == date(2028, 2, 29)  # leap year


def test_quarterly_half_yearly_and_yearly_labels_and_bounds():
    assert spans(periods_in_year(QuarterlySchedule(), 2026, CTX)) == [
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    ]
    assert spans(periods_in_year(HalfYearlySchedule(), 2026, CTX)) == [
        ("2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
    ]
    assert spans(periods_in_year(YearlySchedule(), 2026, CTX)) == [("2026", date(2026, 1, 1), date(2026, 12, 31))]
    assert spans(periods_in_year(KeptCurrentSchedule(), 2026, CTX)) == [("2026", date(2026, 1, 1), date(2026, 12, 31))]


def test_next_period_starts_strictly_after_the_given_day():
    q = QuarterlySchedule()
    assert q.next_period(date(2026, 3, 31), CTX).label == "2026-Q2"
    assert q.next_period(date(2026, 4, 1), CTX).label == "2026-Q3"  # Q2 starts on, not after, 04-01
    assert q.next_period(date(2026, 12, 31), CTX).label == "2027-Q1"
    assert YearlySchedule().next_period(date(2026, 1, 1), CTX).label == "2027"


def test_default_semesters_use_the_documented_month_days():
    periods = periods_in_year(SemesterSchedule(), 2026, CTX)
    assert spans(periods) == [
        ("2026-spring", date(2026, 2, 25), date(2026, 7, 10)),
        ("2026-autumn", date(2026, 9, 1), date(2027, 1, 20)),  # labelled by its starting year
    ]


def test_explicit_semester_overrides_the_default_for_its_label_only():
    ctx = Context(semesters=(Semester("2026-autumn", date(2026, 8, 31), date(2027, 1, 15)),))
    periods = periods_in_year(SemesterSchedule(), 2026, ctx)
    assert spans(periods) == [
        ("2026-spring", date(2026, 2, 25), date(2026, 7, 10)),
        ("2026-autumn", date(2026, 8, 31), date(2027, 1, 15)),
    ]
    assert periods_in_year(SemesterSchedule(), 2027, ctx)[1].start == date(2027, 9, 1)


def test_semester_defaults_can_be_configured():
    ctx = Context(semester_defaults=SemesterDefaults(autumn_start="09-05", autumn_end="01-25",
                                                     spring_start="03-01", spring_end="07-05"))
    assert spans(periods_in_year(SemesterSchedule(which=("spring",)), 2027, ctx)) == [
        ("2027-spring", date(2027, 3, 1), date(2027, 7, 5)),
    ]


def test_autumn_only_semesters_step_year_to_year():
    s = SemesterSchedule(which=("autumn",))
    assert s.next_period(date(2026, 9, 1), CTX).label == "2027-autumn"
    assert s.next_period(date(2026, 8, 31), CTX).label == "2026-autumn"


def test_seasons_from_context_in_start_order():
    ctx = Context(seasons=(Season("kaixue", "开学季", "08-25", "09-20"), Season("biye", "毕业季", "06-01", "06-30")))
    assert spans(periods_in_year(SeasonSchedule(), 2026, ctx)) == [
        ("2026-biye", date(2026, 6, 1), date(2026, 6, 30)),
        ("2026-kaixue", date(2026, 8, 25), date(2026, 9, 20)),
    ]
    assert spans(periods_in_year(SeasonSchedule(seasons=("kaixue",)), 2026, ctx)) == [
        ("2026-kaixue", date(2026, 8, 25), date(2026, 9, 20)),
    ]


def test_season_that_wraps_the_new_year_ends_next_year():
    ctx = Context(seasons=(Season("hanjia", "寒假", "12-20", "02-10"),))
    assert spans(periods_in_year(SeasonSchedule(), 2026, ctx)) == [("2026-hanjia", date(2026, 12, 20), date(2027, 2, 10))]


def test_default_context_has_the_three_seasons_of_the_seed():
    assert {p.label for p in periods_in_year(SeasonSchedule(), 2026, CTX)} == {"2026-kaixue", "2026-zhaosheng", "2026-biye"}


def test_unconfigured_season_is_named_in_the_error():
    with pytest.raises(KeyError, match="zhaosheng"):
        periods_in_year(SeasonSchedule(seasons=("zhaosheng",)), 2026, Context(seasons=()))


def test_event_and_ad_hoc_generate_no_periods():
    assert periods_in_year(EventSchedule(), 2026, CTX) == []
    assert periods_in_year(AdHocSchedule(), 2026, CTX) == []
    assert EventSchedule.period_for(12, date(2026, 10, 12)) == Period("E12", date(2026, 10, 12), date(2026, 10, 12))


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: Semester("2026-winter", date(2026, 1, 1), date(2026, 2, 1)), "label"),
        (lambda: Semester("2026-autumn", date(2026, 9, 1), date(2026, 8, 1)), "end"),
        (lambda: SemesterDefaults(autumn_start="9-1"), "autumn_start"),
        (lambda: SemesterDefaults(spring_end="02-30"), "spring_end"),
        (lambda: Season("kaixue", "开学季", "13-01", "09-30"), "start"),
        (lambda: SemesterSchedule(which=("summer",)), "which"),
        (lambda: Context(seasons=(Season("a", "A", "01-01", "01-31"), Season("a", "B", "02-01", "02-28"))), "seasons"),
    ],
)
def test_bad_context_values_name_the_field(build, field):
    with pytest.raises(InvalidField) as exc:
        build()
    assert exc.value.field == field
