"""Sending windows: the hours in which reminder messages may go out.

A reminder's *stage* is a matter of dates (``reminders.stage_at``); *when it is sent* is a
matter of sending windows, kept here. By default messages go out on China's working days
(weekends and holidays off, 调休 Saturdays/Sundays on) from 09:00 to 18:00 local time. A
message planned outside a window waits for the next one: planned on Saturday 2026-03-14, it is
sent on Monday 2026-03-16 at 09:00.

All datetimes are local wall-clock time in the configured zone (naive, as stored by the
service). An aware datetime is accepted and keeps its tzinfo; only its wall clock is read.
Pure: the calendar and the time are parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

# Keys of the config file's [reminders] table that belong to the sending window; the other
# keys of that table are the reminder policy (reminders.py).
WINDOW_KEYS = ("window_start", "window_end", "workdays_only")


class WorkdayLookup(Protocol):
    """The part of ``workdays.WorkdayCalendar`` used here."""

    def is_workday(self, d: date) -> bool: ...
    def next_workday(self, d: date) -> date: ...


class SendingWindowError(ValueError):
    """A bad sending-window setting; ``str()`` names where and which field."""

    def __init__(self, where: str, field: str, message: str):
        super().__init__(f"{where}: {field}: {message}")
        self.where = where
        self.field = field
        self.message = message


_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_time(value: Any, where: str, field: str) -> time:
    # TOML local times (window_start = 09:00:00) arrive as datetime.time; strings as "09:00".
    if isinstance(value, time):
        return value
    m = _HH_MM.match(value) if isinstance(value, str) else None
    if m and int(m.group(1)) <= 23 and int(m.group(2)) <= 59:
        return time(int(m.group(1)), int(m.group(2)))
    raise SendingWindowError(where, field, f'应为 "HH:MM" 格式的时间，例如 "09:00"，实际为 {value!r}')


@dataclass(frozen=True)
class SendingWindow:
    """One window per sending day: [start, end) local time; no overnight windows."""

    start: time = time(9, 0)
    end: time = time(18, 0)
    workdays_only: bool = True  # false: every calendar day is a sending day

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise SendingWindowError(
                "sending window", "window_end",
                f"应晚于 window_start（{self.start:%H:%M}），实际为 {self.end:%H:%M}",
            )

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any] | None, *, where: str = "config [reminders]"
    ) -> "SendingWindow":
        """Read ``window_start``, ``window_end``, ``workdays_only`` from a config [reminders]
        table. Other keys of that table are the reminder policy's and are not looked at here
        (``ReminderPolicy.from_mapping`` checks them)."""
        mapping = mapping or {}
        if not isinstance(mapping, Mapping):
            raise SendingWindowError(where, "reminders", f"应为表，实际为 {mapping!r}")
        start = cls.start if "window_start" not in mapping else _parse_time(
            mapping["window_start"], where, "window_start")
        end = cls.end if "window_end" not in mapping else _parse_time(
            mapping["window_end"], where, "window_end")
        workdays_only = mapping.get("workdays_only", cls.workdays_only)
        if not isinstance(workdays_only, bool):
            raise SendingWindowError(
                where, "workdays_only", f"应为 true 或 false，实际为 {workdays_only!r}")
        if not start < end:
            raise SendingWindowError(
                where, "window_end",
                f"应晚于 window_start（{start:%H:%M}），实际为 {end:%H:%M}")
        return cls(start=start, end=end, workdays_only=workdays_only)


DEFAULT_WINDOW = SendingWindow()


def is_sending_day(d: date, cal: WorkdayLookup, window: SendingWindow = DEFAULT_WINDOW) -> bool:
    return cal.is_workday(d) if window.workdays_only else True


def _wall_time(now: datetime) -> time:
    return now.time().replace(tzinfo=None)


def in_window(now: datetime, cal: WorkdayLookup, window: SendingWindow = DEFAULT_WINDOW) -> bool:
    """True when a message may go out at ``now``."""
    return (is_sending_day(now.date(), cal, window)
            and window.start <= _wall_time(now) < window.end)


def next_window_start(
    now: datetime, cal: WorkdayLookup, window: SendingWindow = DEFAULT_WINDOW
) -> datetime:
    """When a message planned at ``now`` goes out: ``now`` itself inside a window, else the
    start of the next window."""
    if in_window(now, cal, window):
        return now
    day = now.date()
    if not (is_sending_day(day, cal, window) and _wall_time(now) < window.start):
        day += timedelta(days=1)
        if window.workdays_only:
            day = cal.next_workday(day)
    return datetime.combine(day, window.start, tzinfo=now.tzinfo)


def window_id(dt: datetime) -> str:
    """Stable name of the sending window that ``dt`` (a time inside a window, as returned by
    :func:`next_window_start`) belongs to: its date, ``2026-03-16``. One window per day, so one
    digest per recipient, channel and day."""
    return dt.date().isoformat()
