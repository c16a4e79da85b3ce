import random
from datetime import date, timedelta

import chinese_calendar
import pytest

from obligations.holiday_files import YearData, write_year_file
from obligations.statutory import statutory_holidays
from obligations.workdays import OFFICIAL_YEARS, WorkdayCalendar, WorkdayDeadline

D = date


@pytest.fixture(scope="module")
def cal():
    return WorkdayCalendar()


def naive_workdays_before(event, n):
    d, counted = event, 0
    while counted < n:
        d -= timedelta(days=1)
        counted += chinese_calendar.is_workday(d)
    return d


# --- 2026, official data -----------------------------------------------------------------------

@pytest.mark.parametrize("day, working", [
    (D(2026, 1, 4), True),     # Sunday, 元旦调休上班
    (D(2026, 10, 10), True),   # Saturday, 国庆调休上班
    (D(2026, 10, 7), False),   # 国庆节 holiday on a Wednesday
    (D(2026, 2, 17), False),   # 春节 (正月初一)
    (D(2026, 10, 12), True),   # an ordinary Monday
    (D(2026, 10, 17), False),  # an ordinary Saturday
])
def test_2026_holidays_and_adjusted_working_days(cal, day, working):
    assert cal.is_workday(day) is working
    assert cal.year_source(2026) == "official"
    assert not cal.is_provisional(day)


def test_holiday_names(cal):
    assert cal.holiday_name(D(2026, 10, 1)) == "国庆节"
    assert cal.holiday_name(D(2026, 2, 17)) == "春节"
    assert cal.holiday_name(D(2026, 10, 10)) is None  # adjusted working day
    assert cal.holiday_name(D(2026, 10, 17)) is None  # plain weekend
    assert cal.holiday_name(D(2027, 2, 6)) == "春节"   # provisional


# --- N working days before an event ------------------------------------------------------------

@pytest.mark.parametrize("event, deadline", [
    (D(2026, 10, 12), D(2026, 9, 8)),   # DOMAIN.md examples
    (D(2026, 3, 2), D(2026, 1, 27)),
])
def test_twenty_working_days_before_event(cal, event, deadline):
    assert cal.workdays_before(event, 20) == WorkdayDeadline(deadline, 20, False)


def test_event_day_not_counted_deadline_day_counted(cal):
    # 2026-10-12 is a Monday; the working day before it is Saturday 10-10 (调休).
    assert cal.workdays_before(D(2026, 10, 12), 1).date == D(2026, 10, 10)
    assert cal.workdays_before(D(2026, 10, 8), 1).date == D(2026, 9, 30)
    assert cal.workdays_before(D(2026, 10, 12), 0).date == D(2026, 10, 12)
    with pytest.raises(ValueError):
        cal.workdays_before(D(2026, 10, 12), -1)


def test_matches_a_day_by_day_count_over_the_package_data(cal):
    rng = random.Random(7)
    for _ in range(400):
        event = D(2019, 1, 1) + timedelta(days=rng.randrange(365 * 8))
        n = rng.randint(1, 40)
        assert cal.workdays_before(event, n).date == naive_workdays_before(event, n), (event, n)


def test_deadline_crossing_into_official_2026_is_provisional_because_of_2027(cal):
    # 2027-01-01 is off (元旦); 4-7 Jan are 4 working days, the other 16 are in December 2026.
    assert cal.workdays_before(D(2027, 1, 8), 20) == WorkdayDeadline(D(2026, 12, 10), 20, True)


def test_deadline_only_counting_official_days_is_not_provisional(cal):
    # The event day itself is in 2027, but every counted day is in 2026.
    assert cal.workdays_before(D(2027, 1, 1), 5) == WorkdayDeadline(D(2026, 12, 25), 5, False)


def test_deadline_crossing_the_start_of_official_data(cal):
    first = OFFICIAL_YEARS.start  # 2004 in chinesecalendar 1.11; 2003 is provisional
    deadline = cal.workdays_before(D(first, 1, 10), 20)
    assert deadline.date.year == first - 1 and deadline.provisional


# --- provisional 2027 ----------------------------------------------------------------------------

@pytest.mark.parametrize("day, working", [
    (D(2027, 2, 5), False),   # 除夕
    (D(2027, 2, 6), False),   # 正月初一 (a Saturday anyway)
    (D(2027, 2, 8), False),   # 正月初三, Monday
    (D(2027, 2, 9), True),    # no bridging days provisionally
    (D(2027, 4, 5), False),   # 清明
    (D(2027, 10, 1), False),
    (D(2027, 10, 2), False),
    (D(2027, 10, 3), False),
    (D(2027, 10, 4), True),   # Monday after National Day: on, provisionally
    (D(2027, 2, 20), False),  # Saturday: no 调休 days provisionally
])
def test_provisional_2027(cal, day, working):
    assert cal.is_workday(day) is working
    assert cal.is_provisional(day)
    assert cal.year_source(2027) == "provisional"


def test_is_provisional_by_year(cal):
    assert not cal.is_provisional(D(2026, 12, 31))
    assert cal.is_provisional(D(2027, 1, 1))
    assert cal.is_provisional(D(2003, 12, 31))
    assert cal.spans_provisional(D(2026, 12, 1), D(2027, 1, 1))
    assert not cal.spans_provisional(D(2026, 1, 1), D(2026, 12, 31))


# --- count, add_workdays, next_workday ------------------------------------------------------

def test_count_across_a_year_boundary(cal):
    # Dec 28-31 2026 (4) + Jan 4-8 2027 (5); 2027-01-01 is 元旦.
    assert cal.count(D(2026, 12, 28), D(2027, 1, 8)) == 9


def test_count_includes_both_ends_and_is_zero_when_reversed(cal):
    assert cal.count(D(2026, 10, 10), D(2026, 10, 10)) == 1
    assert cal.count(D(2026, 10, 1), D(2026, 10, 7)) == 0
    assert cal.count(D(2026, 10, 12), D(2026, 10, 1)) == 0
    assert cal.count(D(2026, 1, 1), D(2026, 12, 31)) == sum(
        chinese_calendar.is_workday(D(2026, 1, 1) + timedelta(days=i)) for i in range(365))


def test_add_workdays(cal):
    assert cal.add_workdays(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert cal.add_workdays(D(2026, 10, 9), 1) == D(2026, 10, 10)   # Saturday 调休
    assert cal.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 4)    # provisional 元旦 skipped
    assert cal.add_workdays(D(2026, 10, 8), -1) == D(2026, 9, 30)
    assert cal.add_workdays(D(2026, 10, 12), -20) == D(2026, 9, 8)
    assert cal.add_workdays(D(2026, 10, 1), 0) == D(2026, 10, 1)


def test_add_then_count_agree(cal):
    start = D(2026, 11, 2)
    for n in (1, 10, 45, 300):
        end = cal.add_workdays(start, n)
        assert cal.count(start + timedelta(days=1), end) == n


def test_next_and_previous_workday(cal):
    assert cal.next_workday(D(2026, 10, 1)) == D(2026, 10, 8)
    assert cal.next_workday(D(2026, 10, 10)) == D(2026, 10, 10)
    assert cal.previous_workday(D(2026, 10, 7)) == D(2026, 9, 30)
    assert cal.previous_workday(D(2026, 10, 9)) == D(2026, 10, 9)


@pytest.mark.parametrize("year", [1900, 1901, 1950, 2003, 2004, 2027, 2050, 2100, 2150, 2199, 2200])
def test_any_year_1900_to_2200_works_across_its_boundaries(cal, year):
    first, last = D(year, 1, 1), D(year, 12, 31)
    in_year = cal.count(first, last)
    assert 230 <= in_year <= 262
    off = set(statutory_holidays(year)) if cal.year_source(year) == "provisional" else set()
    assert not any(cal.is_workday(d) for d in off)
    assert cal.workdays_before(first + timedelta(days=3), 30).date.year == year - 1
    assert cal.add_workdays(last - timedelta(days=3), 30).year == year + 1
    assert cal.count(D(year - 1, 12, 1), D(year + 1, 1, 31)) == (
        cal.count(D(year - 1, 12, 1), D(year - 1, 12, 31)) + in_year + cal.count(D(year + 1, 1, 1), D(year + 1, 1, 31)))


# --- administrator data -----------------------------------------------------------------------

def user_2027() -> YearData:
    holidays = dict(statutory_holidays(2027))
    for day in (9, 10, 11):                       # extra Spring Festival days
        holidays[D(2027, 2, day)] = "春节"
    return YearData(2027, holidays, {D(2027, 2, 20): "春节"}, "示例通知")


def test_user_year_overrides_provisional_rules():
    cal = WorkdayCalendar({2027: user_2027()})
    assert cal.year_source(2027) == "user"
    assert not cal.is_provisional(D(2027, 2, 9))
    assert not cal.is_workday(D(2027, 2, 9))        # extra Spring Festival day
    assert cal.is_workday(D(2027, 2, 20))           # Saturday made a working day
    assert cal.is_workday(D(2027, 10, 4))           # not listed: weekday rule
    assert cal.workdays_before(D(2027, 2, 22), 1).date == D(2027, 2, 20)
    # Back from 16 Feb: 15, 12, then 9-11 Feb are off, so 4 and 3 Feb (provisionally: 15, 12, 11, 10).
    assert cal.workdays_before(D(2027, 2, 16), 4) == WorkdayDeadline(D(2027, 2, 3), 4, False)
    assert WorkdayCalendar().workdays_before(D(2027, 2, 16), 4) == WorkdayDeadline(D(2027, 2, 10), 4, True)
    assert cal.workdays_before(D(2027, 1, 8), 20).provisional is False


def test_from_dir_reads_installed_year_files(tmp_path):
    write_year_file(user_2027(), tmp_path)
    cal = WorkdayCalendar.from_dir(tmp_path)
    assert cal.year_source(2027) == "user"
    assert cal.is_workday(D(2027, 2, 20))
    assert cal.holiday_name(D(2027, 2, 10)) == "春节"
    assert WorkdayCalendar.from_dir(None).year_source(2027) == "provisional"
    assert WorkdayCalendar.from_dir(tmp_path / "missing").year_source(2027) == "provisional"


def test_user_year_can_override_official_data():
    data = YearData(2026, {D(2026, 1, 1): "元旦"}, {}, "test")
    cal = WorkdayCalendar({2026: data})
    assert cal.year_source(2026) == "user"
    assert cal.is_workday(D(2026, 10, 1))
    assert not cal.is_workday(D(2026, 1, 4))  # the package's 调休 Sunday no longer applies


def test_user_years_keyed_by_the_wrong_year_are_refused():
    with pytest.raises(ValueError):
        WorkdayCalendar({2028: user_2027()})
