"""Deadline rules: the window (opens, due) of an obligation inside one period.

One class per ``rule`` of docs/packs.md. The fields of each class are the rule's TOML fields;
values are checked when the rule is built (``InvalidField`` names the field), so a pack with a
bad rule is refused at load time rather than when a date is first needed.

Date phrases follow DOMAIN.md: 上旬 1st-10th, 中旬 11th-20th, 下旬 21st-month end; a due date is
kept as written, even on a weekend or holiday, unless the pack sets ``roll``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, ClassVar

from dateutil.relativedelta import relativedelta

from obligations.schedules import InvalidField, Period, month_day_in_year, parse_month_day

if TYPE_CHECKING:  # the calendar is only called through its documented interface
    from obligations.workdays import WorkdayCalendar

ROLLS = ("none", "next_workday", "previous_workday")
XUN_DAYS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}  # 上旬 / 中旬 / 下旬

# An event's registration date is not known to the core: the approval window opens this many
# days before its due date unless the pack sets ``opens_days_before``.
DEFAULT_EVENT_LEAD_DAYS = 30


@dataclass(frozen=True)
class Window:
    opens: date
    due: date
    provisional: bool  # some date it depends on lies in a year without official holiday data


def _check_int(field: str, value: object, low: int, high: int | None = None) -> None:
    # bool is an int subclass; `true` in TOML is never a count.
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        rng = f" {low}-{high} 的" if high is not None else f"不小于 {low} 的"
        raise InvalidField(field, f"必须是{rng}整数，实际为 {value!r}")


@dataclass(frozen=True, kw_only=True)
class DeadlineRule(ABC):
    """Base of all rules: ``roll`` and ``opens_days_before`` apply to every rule."""

    rule: ClassVar[str]
    needs_anchor: ClassVar[bool] = False  # the window depends on an anchor date (event/meeting)

    roll: str = "none"
    opens_days_before: int | None = None

    def __post_init__(self) -> None:
        if self.roll not in ROLLS:
            raise InvalidField("roll", f"必须是 {'、'.join(ROLLS)} 之一，实际为 {self.roll!r}")
        if self.opens_days_before is not None:
            _check_int("opens_days_before", self.opens_days_before, 0)

    def window(self, period: Period, cal: WorkdayCalendar, anchor: date | None = None) -> Window:
        opens, due, provisional = self._raw_window(period, cal, anchor)
        if self.roll != "none":
            rolled = cal.next_workday(due) if self.roll == "next_workday" else _previous_workday(cal, due)
            provisional = provisional or cal.is_provisional(due) or cal.is_provisional(rolled)
            due = rolled
        if self.opens_days_before is not None:
            opens = due - timedelta(days=self.opens_days_before)
        # A window never opens after it is due (e.g. an anchor meeting on the period's first day).
        return Window(min(opens, due), due, provisional)

    @abstractmethod
    def _raw_window(self, period: Period, cal: WorkdayCalendar, anchor: date | None) -> tuple[date, date, bool]:
        """(opens, due, provisional) before ``roll`` and ``opens_days_before``."""


def _previous_workday(cal: WorkdayCalendar, d: date) -> date:
    return d if cal.is_workday(d) else cal.add_workdays(d, -1)


def _month_of_period(period: Period, month: int | None) -> date:
    """First day of the ``month``-th (1-based) month of the period; default its last month."""
    if month is None:
        return period.end.replace(day=1)
    first = period.start.replace(day=1) + relativedelta(months=month - 1)
    if first > period.end:
        raise ValueError(f"period {period.label} has no month {month}")
    return first


def _month_end(first: date) -> date:
    return first + relativedelta(day=31)  # relativedelta clamps to the month's last day


def _check_month(value: int | None) -> None:
    if value is not None:
        _check_int("month", value, 1, 12)


@dataclass(frozen=True, kw_only=True)
class PeriodEnd(DeadlineRule):
    """Due on the period's last day (每月底前 -> the month's last day)."""

    rule: ClassVar[str] = "period_end"

    def _raw_window(self, period, cal, anchor):
        return period.start, period.end, False


@dataclass(frozen=True, kw_only=True)
class DayInLastMonth(DeadlineRule):
    """Due on ``day`` of the period's last month (每半年末15日前 -> 15 June / 15 December).
    A day past the month's end (31 in June) means the month's last day."""

    rule: ClassVar[str] = "day_in_last_month"
    day: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("day", self.day, 1, 31)

    def _raw_window(self, period, cal, anchor):
        return period.start, period.end.replace(day=1) + relativedelta(day=self.day), False


@dataclass(frozen=True, kw_only=True)
class Xun(DeadlineRule):
    """A 旬 of one month of the period: opens on its first day, due on its last."""

    rule: ClassVar[str] = "xun"
    xun: str
    month: int | None = None  # 1-based month within the period; None = its last

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.xun not in XUN_DAYS:
            raise InvalidField("xun", f'必须是 "early"、"mid" 或 "late"（上旬/中旬/下旬），实际为 {self.xun!r}')
        _check_month(self.month)

    def _raw_window(self, period, cal, anchor):
        first = _month_of_period(period, self.month)
        low, high = XUN_DAYS[self.xun]
        return first.replace(day=low), first + relativedelta(day=high), False


@dataclass(frozen=True, kw_only=True)
class InMonth(DeadlineRule):
    """The whole of one month of the period ("in December": opens 1 Dec, due 31 Dec)."""

    rule: ClassVar[str] = "in_month"
    month: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_month(self.month)

    def _raw_window(self, period, cal, anchor):
        first = _month_of_period(period, self.month)
        return first, _month_end(first), False


@dataclass(frozen=True, kw_only=True)
class Fixed(DeadlineRule):
    """Due on a fixed month/day: the first such date on or after the period's start (so a
    month of January in an autumn semester means the January after it starts). ``opens``
    ("MM-DD") is the latest such date on or before the due date; default the period start."""

    rule: ClassVar[str] = "fixed"
    month: int
    day: int
    opens: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("month", self.month, 1, 12)
        _check_int("day", self.day, 1, 31)
        parse_month_day(f"{self.month:02d}-{self.day:02d}", "day")  # e.g. 04-31 does not exist
        if self.opens is not None:
            parse_month_day(self.opens, "opens")

    def _raw_window(self, period, cal, anchor):
        due = month_day_in_year(self.month, self.day, period.start.year)
        if due < period.start:
            due = month_day_in_year(self.month, self.day, period.start.year + 1)
        opens = period.start
        if self.opens is not None:
            md = parse_month_day(self.opens)
            opens = month_day_in_year(*md, due.year)
            if opens > due:
                opens = month_day_in_year(*md, due.year - 1)
        return opens, due, False


@dataclass(frozen=True, kw_only=True)
class WorkdaysBeforeEvent(DeadlineRule):
    """Approval due N working days before the event (anchor = event date): the N-th working day
    counting back, the event day not counted, the deadline day counted. The registration date
    is unknown here, so the window opens ``DEFAULT_EVENT_LEAD_DAYS`` before the due date."""

    rule: ClassVar[str] = "workdays_before_event"
    needs_anchor: ClassVar[bool] = True
    workdays: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_int("workdays", self.workdays, 1)

    def _raw_window(self, period, cal, anchor):
        if anchor is None:
            raise ValueError("workdays_before_event needs the event date")
        deadline = cal.workdays_before(anchor, self.workdays)
        return deadline.date - timedelta(days=DEFAULT_EVENT_LEAD_DAYS), deadline.date, deadline.provisional


@dataclass(frozen=True, kw_only=True)
class _AnchorRule(DeadlineRule):
    needs_anchor: ClassVar[bool] = True
    days: int | None = None
    workdays: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.days is not None and self.workdays is not None:
            raise InvalidField("workdays", "days 和 workdays 只能写一个，不能都写")
        if self.days is not None:
            _check_int("days", self.days, 0)
        if self.workdays is not None:
            _check_int("workdays", self.workdays, 1)

    def _anchor(self, anchor: date | None) -> date:
        if anchor is None:
            raise ValueError(f"{self.rule} needs the anchor meeting's date")
        return anchor


@dataclass(frozen=True, kw_only=True)
class BeforeAnchor(_AnchorRule):
    """Due ``days`` calendar days (default 1) or ``workdays`` working days before the anchor
    meeting (e.g. offices report before the quarterly joint meeting); opens at the period start."""

    rule: ClassVar[str] = "before_anchor"

    def _raw_window(self, period, cal, anchor):
        meeting = self._anchor(anchor)
        if self.workdays is not None:
            deadline = cal.workdays_before(meeting, self.workdays)
            return period.start, deadline.date, deadline.provisional
        days = 1 if self.days is None else self.days
        return period.start, meeting - timedelta(days=days), False


@dataclass(frozen=True, kw_only=True)
class AfterAnchor(_AnchorRule):
    """Opens on the anchor meeting's date, due ``days`` calendar days or ``workdays`` working
    days after it (e.g. the situation report after the joint meeting). One of them is required."""

    rule: ClassVar[str] = "after_anchor"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.days is None and self.workdays is None:
            raise InvalidField("days", "after_anchor 需要 days 或 workdays")

    def _raw_window(self, period, cal, anchor):
        meeting = self._anchor(anchor)
        if self.workdays is not None:
            due = cal.add_workdays(meeting, self.workdays)
            return meeting, due, cal.is_provisional(meeting) or cal.is_provisional(due)
        return meeting, meeting + timedelta(days=self.days), False


DEADLINE_RULES: dict[str, type[DeadlineRule]] = {
    cls.rule: cls
    for cls in (PeriodEnd, DayInLastMonth, Xun, InMonth, Fixed, WorkdaysBeforeEvent, BeforeAnchor, AfterAnchor)
}
