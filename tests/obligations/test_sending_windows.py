"""Sending windows on China's 2026 calendar: weekends, holidays, 调休 working days."""

from datetime import datetime, time

import pytest

from obligations.sending_windows import (
    DEFAULT_WINDOW,
    SendingWindow,
    SendingWindowError,
    in_window,
    next_window_start,
    window_id,
)
from obligations.workdays import WorkdayCalendar


@pytest.fixture(scope="module")
def cal():
    return WorkdayCalendar()


def test_inside_a_window_a_message_goes_out_at_once(cal):
    now = datetime(2026, 3, 16, 10, 37)  # Monday
    assert in_window(now, cal)
    assert next_window_start(now, cal) == now


def test_saturday_waits_for_monday_morning(cal):
    now = datetime(2026, 3, 14, 10, 0)  # Saturday
    assert not in_window(now, cal)
    assert next_window_start(now, cal) == datetime(2026, 3, 16, 9, 0)


def test_early_morning_waits_for_nine_the_same_day(cal):
    assert next_window_start(datetime(2026, 3, 16, 0, 5), cal) == datetime(2026, 3, 16, 9, 0)


def test_window_start_is_inside_and_end_is_outside(cal):
    assert in_window(datetime(2026, 3, 16, 9, 0), cal)
    assert in_window(datetime(2026, 3, 16, 17, 59, 59), cal)
    assert not in_window(datetime(2026, 3, 16, 18, 0), cal)
    # Friday evening goes to Monday.
    assert next_window_start(datetime(2026, 3, 20, 18, 0), cal) == datetime(2026, 3, 23, 9, 0)


def test_national_day_holiday_is_skipped(cal):
    # 2026-10-01..07 is the National Day holiday; 2026-10-08 (Thursday) is the next working day.
    assert not in_window(datetime(2026, 10, 5, 10, 0), cal)  # a Monday inside the holiday
    assert next_window_start(datetime(2026, 9, 30, 18, 30), cal) == datetime(2026, 10, 8, 9, 0)
    assert next_window_start(datetime(2026, 10, 3, 11, 0), cal) == datetime(2026, 10, 8, 9, 0)


def test_tiaoxiu_saturday_is_a_sending_day(cal):
    # 2026-10-10 is a Saturday worked in exchange for the holiday.
    assert in_window(datetime(2026, 10, 10, 11, 0), cal)
    assert next_window_start(datetime(2026, 10, 9, 19, 0), cal) == datetime(2026, 10, 10, 9, 0)
    # 2026-02-28, a Saturday after the Spring Festival, likewise.
    assert in_window(datetime(2026, 2, 28, 9, 30), cal)
    # ... while the Sunday after it is not.
    assert next_window_start(datetime(2026, 3, 1, 9, 30), cal) == datetime(2026, 3, 2, 9, 0)


def test_spring_festival_weekdays_are_not_sending_days(cal):
    # 2026-02-15..23 off; 2026-02-14 (Saturday) worked.
    assert in_window(datetime(2026, 2, 14, 15, 0), cal)
    assert next_window_start(datetime(2026, 2, 14, 18, 5), cal) == datetime(2026, 2, 24, 9, 0)


def test_provisional_year_does_not_crash(cal):
    # 2030 has no published schedule: statutory holidays (1-3 October) plus weekends.
    assert next_window_start(datetime(2030, 9, 30, 20, 0), cal) == datetime(2030, 10, 4, 9, 0)


def test_every_day_windows_when_not_workdays_only(cal):
    window = SendingWindow(workdays_only=False)
    assert in_window(datetime(2026, 10, 3, 10, 0), cal, window)
    assert next_window_start(datetime(2026, 3, 13, 18, 0), cal, window) == datetime(2026, 3, 14, 9, 0)


def test_window_id_names_the_day():
    assert window_id(datetime(2026, 3, 16, 9, 0)) == "2026-03-16"
    assert window_id(datetime(2026, 3, 16, 17, 0)) == window_id(datetime(2026, 3, 16, 9, 0))


def test_aware_datetimes_keep_their_zone(cal):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    assert next_window_start(datetime(2026, 3, 14, 10, 0, tzinfo=tz), cal) == datetime(
        2026, 3, 16, 9, 0, tzinfo=tz)


def test_window_from_config():
    window = SendingWindow.from_mapping(
        {"window_start": "08:30", "window_end": "17:30", "workdays_only": False,
         "before_days": [7, 3]})  # policy keys are left to ReminderPolicy
    assert window == SendingWindow(time(8, 30), time(17, 30), False)
    assert SendingWindow.from_mapping(None) == DEFAULT_WINDOW == SendingWindow(time(9), time(18), True)
    assert SendingWindow.from_mapping({"window_start": time(10, 0)}).start == time(10, 0)


@pytest.mark.parametrize(
    "mapping, field",
    [
        ({"window_start": "9h"}, "window_start"),
        ({"window_end": "25:00"}, "window_end"),
        ({"window_start": "19:00"}, "window_end"),  # end before start
        ({"workdays_only": "yes"}, "workdays_only"),
    ],
)
def test_bad_window_settings_name_the_field(mapping, field):
    with pytest.raises(SendingWindowError) as err:
        SendingWindow.from_mapping(mapping, where="/etc/ccal/config.toml [reminders]")
    assert err.value.field == field
    assert str(err.value).startswith(f"/etc/ccal/config.toml [reminders]: {field}: ")
