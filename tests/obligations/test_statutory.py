from datetime import date

import chinese_calendar
import pytest

from obligations.statutory import statutory_holidays


def test_2027_statutory_holidays_follow_the_2025_rule():
    days = statutory_holidays(2027)
    assert days == {
        date(2027, 1, 1): "元旦",
        date(2027, 2, 5): "春节",  # 除夕
        date(2027, 2, 6): "春节",  # 正月初一
        date(2027, 2, 7): "春节",
        date(2027, 2, 8): "春节",  # 正月初三
        date(2027, 4, 5): "清明节",
        date(2027, 5, 1): "劳动节",
        date(2027, 5, 2): "劳动节",
        date(2027, 6, 9): "端午节",
        date(2027, 9, 15): "中秋节",
        date(2027, 10, 1): "国庆节",
        date(2027, 10, 2): "国庆节",
        date(2027, 10, 3): "国庆节",
    }


def test_chuxi_is_the_day_before_new_year_when_the_twelfth_month_has_29_days():
    # Lunar month 12 of 2024 had 29 days: 除夕 2025 was 腊月廿九, 2025-01-28.
    days = statutory_holidays(2025)
    assert date(2025, 1, 28) in days
    assert date(2025, 1, 27) not in days


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_statutory_day_is_off_in_the_official_arrangement(year):
    # The State Council's arrangements under the 2025 rule contain all statutory days.
    official = {d for d in chinese_calendar.holidays if d.year == year}
    assert set(statutory_holidays(year)) <= official


def test_mid_autumn_on_national_day_is_one_day_with_both_names():
    days = statutory_holidays(2020)
    assert days[date(2020, 10, 1)] == "中秋节、国庆节"
    assert len(days) == 12


@pytest.mark.parametrize("year", [1900, 1984, 2100, 2199, 2200])
def test_any_year_gives_holidays_inside_that_year(year):
    days = statutory_holidays(year)
    assert len(days) in (12, 13)
    assert all(d.year == year for d in days)
    assert list(days) == sorted(days)
