"""Schedules: which periods an obligation has (APScheduler-trigger style).

A schedule answers one question, ``next_period(after, ctx)``: the earliest period whose start
lies strictly after ``after``. Everything else (``periods_in_year``) is built on that. Schedules
are pure: the institution's own dates (semesters, seasons) come in through a :class:`Context`.

Calendar recurrences (months, quarters, half-years, years) use ``dateutil.rrule`` so that no
month arithmetic is written by hand here.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar

from dateutil.relativedelta import relativedelta
from dateutil.rrule import MONTHLY, rrule


class InvalidField(ValueError):
    """A schedule or deadline-rule field with a bad value.

    Raised by the classes here and in ``deadlines.py`` while they are built; the pack loader
    adds the file, line and obligation key.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# Periods and the institution context


@dataclass(frozen=True)
class Period:
    """One period of a schedule; ``start`` and ``end`` are inclusive."""

    label: str  # 2026-06, 2026-Q2, 2026-H1, 2026, 2026-autumn, 2026-kaixue, E12, O3
    start: date
    end: date


_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
# Days per month in a leap year: 02-29 is a valid month-day; it falls back to 02-28 in other years.
_MAX_DAY = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_month_day(text: str, field: str = "month_day") -> tuple[int, int]:
    """``"09-01"`` -> ``(9, 1)``; raises :class:`InvalidField` naming ``field``."""
    m = _MONTH_DAY.match(text) if isinstance(text, str) else None
    if not m:
        raise InvalidField(field, f'必须是 "MM-DD"（月-日），实际为 {text!r}')
    month, day = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12 or not 1 <= day <= _MAX_DAY[month - 1]:
        raise InvalidField(field, f"{text!r} 不是一年中存在的日期")
    return month, day


def month_day_in_year(month: int, day: int, year: int) -> date:
    """The date ``month``/``day`` in ``year``; 02-29 becomes 02-28 outside leap years."""
    return date(year, month, 1) + relativedelta(day=day)  # relativedelta clamps to month end


_SEMESTER_LABEL = re.compile(r"^(\d{4})-(autumn|spring)$")
SEMESTER_NAMES = ("autumn", "spring")


def parse_semester_label(label: str) -> tuple[int, str]:
    """``"2026-autumn"`` -> ``(2026, "autumn")``. The year is the one the semester starts in."""
    m = _SEMESTER_LABEL.match(label) if isinstance(label, str) else None
    if not m:
        raise InvalidField("label", f'must look like "2026-autumn" or "2027-spring", got {label!r}')
    return int(m.group(1)), m.group(2)


@dataclass(frozen=True)
class Semester:
    """An institution's semester with its real dates (inclusive).

    ``label`` uses the year the semester starts: ``2026-autumn`` is Sep 2026 - Jan 2027,
    ``2027-spring`` is Feb - Jul 2027.
    """

    label: str
    start: date
    end: date

    def __post_init__(self) -> None:
        year, _ = parse_semester_label(self.label)
        if self.start.year != year:
            raise InvalidField("start", f"semester {self.label} must start in {year}, got {self.start}")
        if self.end < self.start:
            raise InvalidField("end", f"semester {self.label} ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class SemesterDefaults:
    """Month-day rule for years whose semesters the institution has not configured.

    Defaults (typical Chinese vocational college; replace them in config when the
    institution's calendar differs):

    * autumn: 09-01 to 01-20 of the next year
    * spring: 02-25 to 07-10

    An ``*_end`` earlier in the year than its ``*_start`` means the following year.
    """

    autumn_start: str = "09-01"
    autumn_end: str = "01-20"
    spring_start: str = "02-25"
    spring_end: str = "07-10"

    def __post_init__(self) -> None:
        for name in ("autumn_start", "autumn_end", "spring_start", "spring_end"):
            parse_month_day(getattr(self, name), name)

    def semester(self, year: int, which: str) -> Semester:
        """The default semester ``which`` ("autumn"/"spring") starting in ``year``."""
        if which not in SEMESTER_NAMES:
            raise InvalidField("which", f"must be autumn or spring, got {which!r}")
        start_md = parse_month_day(getattr(self, f"{which}_start"))
        end_md = parse_month_day(getattr(self, f"{which}_end"))
        return Semester(f"{year}-{which}", *_window_in_year(start_md, end_md, year))


@dataclass(frozen=True)
class Season:
    """A yearly window such as 开学季 (``key`` = "kaixue"). ``end`` before ``start`` wraps into
    the next year."""

    key: str
    name: str  # Chinese, shown to secretaries
    start: str  # "MM-DD"
    end: str  # "MM-DD"

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not re.match(r"^[a-z][a-z0-9_]*$", self.key):
            raise InvalidField("key", f"must be a lower-case identifier, got {self.key!r}")
        parse_month_day(self.start, "start")
        parse_month_day(self.end, "end")

    def period(self, year: int) -> Period:
        start, end = _window_in_year(parse_month_day(self.start), parse_month_day(self.end), year)
        return Period(f"{year}-{self.key}", start, end)


# The seeds name the three seasons but leave their dates to the institution (001 clause 17);
# these are defaults for a typical college calendar, to be replaced in config.
DEFAULT_SEASONS: tuple[Season, ...] = (
    Season("kaixue", "开学季", "09-01", "09-30"),
    Season("zhaosheng", "招生季", "06-10", "08-31"),
    Season("biye", "毕业季", "05-20", "06-30"),
)


@dataclass(frozen=True)
class Context:
    """Institution data the schedules need (from config)."""

    semesters: tuple[Semester, ...] = ()  # explicit dates; override the defaults per label
    semester_defaults: SemesterDefaults = SemesterDefaults()
    seasons: tuple[Season, ...] = DEFAULT_SEASONS

    def __post_init__(self) -> None:
        labels = [s.label for s in self.semesters]
        dupes = sorted({l for l in labels if labels.count(l) > 1})
        if dupes:
            raise InvalidField("semesters", f"semester listed twice: {', '.join(dupes)}")
        keys = [s.key for s in self.seasons]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise InvalidField("seasons", f"season listed twice: {', '.join(dupes)}")

    def semester(self, year: int, which: str) -> Semester:
        """The semester ``which`` starting in ``year``: explicit dates if configured, else defaults."""
        label = f"{year}-{which}"
        for s in self.semesters:
            if s.label == label:
                return s
        return self.semester_defaults.semester(year, which)

    def season(self, key: str) -> Season:
        for s in self.seasons:
            if s.key == key:
                return s
        known = ", ".join(s.key for s in self.seasons) or "none"
        raise KeyError(f"season {key!r} is not configured (configured: {known})")


def _window_in_year(start_md: tuple[int, int], end_md: tuple[int, int], year: int) -> tuple[date, date]:
    start = month_day_in_year(*start_md, year)
    end = month_day_in_year(*end_md, year)
    if end < start:  # e.g. autumn semester 09-01 .. 01-20: ends next year
        end = month_day_in_year(*end_md, year + 1)
    return start, end


# ---------------------------------------------------------------------------------------------
# Schedules


class Schedule(ABC):
    """Base of all schedule kinds. Subclasses are frozen dataclasses whose fields are the
    schedule's TOML fields (besides ``kind``)."""

    kind: ClassVar[str]
    # Months per period for calendar schedules (used to validate a rule's ``month``); None when
    # periods have no fixed length.
    months: ClassVar[int | None] = None

    @abstractmethod
    def next_period(self, after: date, ctx: Context) -> Period | None:
        """The earliest period whose start is strictly after ``after``; None if there is none."""


@dataclass(frozen=True)
class _CalendarSchedule(Schedule):
    """Periods of ``months`` calendar months starting in the months listed in ``_start_months``."""

    _start_months: ClassVar[tuple[int, ...]]

    def next_period(self, after: date, ctx: Context) -> Period | None:
        rule = rrule(MONTHLY, bymonth=self._start_months, bymonthday=1, dtstart=datetime(after.year, 1, 1))
        start = rule.after(datetime.combine(after, datetime.min.time()), inc=False).date()
        end = start + relativedelta(months=self.months) - timedelta(days=1)
        return Period(self._label(start), start, end)

    @abstractmethod
    def _label(self, start: date) -> str: ...


@dataclass(frozen=True)
class MonthlySchedule(_CalendarSchedule):
    kind: ClassVar[str] = "monthly"
    months: ClassVar[int] = 1
    _start_months: ClassVar[tuple[int, ...]] = tuple(range(1, 13))

    def _label(self, start: date) -> str:
        return f"{start.year}-{start.month:02d}"


@dataclass(frozen=True)
class QuarterlySchedule(_CalendarSchedule):
    kind: ClassVar[str] = "quarterly"
    months: ClassVar[int] = 3
    _start_months: ClassVar[tuple[int, ...]] = (1, 4, 7, 10)

    def _label(self, start: date) -> str:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class HalfYearlySchedule(_CalendarSchedule):
    kind: ClassVar[str] = "half_yearly"
    months: ClassVar[int] = 6
    _start_months: ClassVar[tuple[int, ...]] = (1, 7)

    def _label(self, start: date) -> str:
        return f"{start.year}-H{1 if start.month == 1 else 2}"


@dataclass(frozen=True)
class YearlySchedule(_CalendarSchedule):
    kind: ClassVar[str] = "yearly"
    months: ClassVar[int] = 12
    _start_months: ClassVar[tuple[int, ...]] = (1,)

    def _label(self, start: date) -> str:
        return str(start.year)


@dataclass(frozen=True)
class KeptCurrentSchedule(YearlySchedule):
    """A standing item (a plan, a registry) that must be kept current; checked once a year."""

    kind: ClassVar[str] = "kept_current"


@dataclass(frozen=True)
class SemesterSchedule(Schedule):
    """The institution's semesters (``ctx``); ``which`` selects autumn and/or spring."""

    kind: ClassVar[str] = "semester"
    which: tuple[str, ...] = SEMESTER_NAMES

    def __post_init__(self) -> None:
        if not isinstance(self.which, tuple) or not self.which:
            raise InvalidField("which", '必须是非空列表，元素为 "autumn"/"spring"')
        for w in self.which:
            if w not in SEMESTER_NAMES:
                raise InvalidField("which", f'只能包含 "autumn" 或 "spring"，实际为 {w!r}')

    def next_period(self, after: date, ctx: Context) -> Period | None:
        # A semester starting after `after` starts in after.year or the year after; explicit
        # dates may shift a start across the new year, so look one year further each way.
        candidates = [ctx.semester(y, w) for y in range(after.year - 1, after.year + 3) for w in self.which]
        later = [s for s in candidates if s.start > after]
        if not later:
            return None
        s = min(later, key=lambda s: s.start)
        return Period(s.label, s.start, s.end)


@dataclass(frozen=True)
class SeasonSchedule(Schedule):
    """Configured seasons (开学季/招生季/毕业季); ``seasons`` empty = every configured season."""

    kind: ClassVar[str] = "season"
    seasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.seasons, tuple) or not all(isinstance(s, str) and s for s in self.seasons):
            raise InvalidField("seasons", '必须是季节 key 的列表，例如 "kaixue"')

    def next_period(self, after: date, ctx: Context) -> Period | None:
        keys = self.seasons or tuple(s.key for s in ctx.seasons)
        candidates = [ctx.season(k).period(y) for y in (after.year, after.year + 1) for k in keys]
        later = [p for p in candidates if p.start > after]
        return min(later, key=lambda p: p.start) if later else None


@dataclass(frozen=True)
class EventSchedule(Schedule):
    """One period per recorded event (lecture, meeting); none are generated from the calendar."""

    kind: ClassVar[str] = "event"

    def next_period(self, after: date, ctx: Context) -> Period | None:
        return None

    @staticmethod
    def period_for(event_id: int | str, event_date: date) -> Period:
        """The one-day period of a recorded event, labelled ``E<id>``."""
        return Period(f"E{event_id}", event_date, event_date)


@dataclass(frozen=True)
class AdHocSchedule(Schedule):
    """Created by an order (督办单) with its own deadline; no periods are generated."""

    kind: ClassVar[str] = "ad_hoc"

    def next_period(self, after: date, ctx: Context) -> Period | None:
        return None


SCHEDULE_KINDS: dict[str, type[Schedule]] = {
    cls.kind: cls
    for cls in (
        MonthlySchedule,
        QuarterlySchedule,
        HalfYearlySchedule,
        YearlySchedule,
        KeptCurrentSchedule,
        SemesterSchedule,
        SeasonSchedule,
        EventSchedule,
        AdHocSchedule,
    )
}


def periods_in_year(schedule: Schedule, year: int, ctx: Context) -> list[Period]:
    """The schedule's periods whose start lies in ``year``, in order."""
    periods: list[Period] = []
    p = schedule.next_period(date(year, 1, 1) - timedelta(days=1), ctx)
    while p is not None and p.start.year == year:
        periods.append(p)
        p = schedule.next_period(p.start, ctx)
    return periods
