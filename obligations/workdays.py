"""China's working-day calendar and working-day arithmetic.

A day is a working day unless it is a Saturday, Sunday or holiday, except that adjusted
working days (调休上班) are on. Where a year's data comes from, highest priority first:
  "user"        an administrator's file (`ccal holidays import`, obligations.holiday_files);
  "official"    the chinesecalendar package (State Council notices, 2004-2026 in 1.11);
  "provisional" statutory holidays (obligations.statutory) plus weekends, no 调休.
Dates that depend on a provisional year are flagged so that users see they may move.

Each year is turned once, lazily, into a sorted list of the ordinals of its working days;
queries are `bisect` on those lists, walking whole years, never single days.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta
from pathlib import Path
from typing import Mapping

import chinese_calendar

from obligations.holiday_files import YearData, load_year_files
from obligations.statutory import statutory_holidays

USER, OFFICIAL, PROVISIONAL = "user", "official", "provisional"
# The package raises NotImplementedError outside the years it has data for; never ask it there.
OFFICIAL_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
# The package names holidays in English; show the names of the State Council notices.
PROVISIONAL_SOURCE = "全国年节及纪念日放假办法（2025年修订）推算，暂定"
_OFFICIAL_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
}


@dataclass(frozen=True)
class WorkdayDeadline:
    date: date
    counted: int  # working days counted back from the event (n)
    provisional: bool  # some day of [date, event) lies in a provisional year


class WorkdayCalendar:
    def __init__(self, user_years: Mapping[int, YearData] | None = None):
        self._user = dict(user_years or {})
        for year, data in self._user.items():
            if data.year != year:
                raise ValueError(f"user_years[{year}] holds data for {data.year}")
        self._years: dict[int, YearData] = {}
        self._index: dict[int, list[int]] = {}  # year -> sorted ordinals of its working days

    @classmethod
    def from_dir(cls, holiday_dir: Path | None) -> "WorkdayCalendar":
        """A calendar with the administrator's year files in `holiday_dir` (if any) on top."""
        return cls(load_year_files(holiday_dir))

    # --- single days ---------------------------------------------------------------------------

    def year_source(self, year: int) -> str:
        if year in self._user:
            return USER
        return OFFICIAL if year in OFFICIAL_YEARS else PROVISIONAL

    def is_provisional(self, d: date) -> bool:
        return self.year_source(d.year) == PROVISIONAL

    def spans_provisional(self, a: date, b: date) -> bool:
        """True if any day of [a, b] lies in a provisional year."""
        return any(self.year_source(y) == PROVISIONAL for y in range(a.year, b.year + 1))

    def is_workday(self, d: date) -> bool:
        days, o = self._workdays(d.year), d.toordinal()
        i = bisect_left(days, o)
        return i < len(days) and days[i] == o

    def holiday_name(self, d: date) -> str | None:
        """Name of the holiday that makes `d` a day off (e.g. "国庆节"); None otherwise."""
        name = self._year_data(d.year).holidays.get(d)
        return None if name is None else (name or "节假日")

    def next_workday(self, d: date) -> date:
        """`d` itself if it is a working day, else the first working day after it."""
        return d if self.is_workday(d) else self.add_workdays(d, 1)

    def previous_workday(self, d: date) -> date:
        """`d` itself if it is a working day, else the last working day before it."""
        return d if self.is_workday(d) else self.add_workdays(d, -1)

    # --- arithmetic ----------------------------------------------------------------------------

    def workdays_before(self, event: date, n: int) -> WorkdayDeadline:
        """The n-th working day counting back from `event` (not counted); that day is counted.

        n = 0 gives the event itself. Provisional if any day from the deadline up to the day
        before the event lies in a provisional year (the event day's own status is irrelevant).
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return WorkdayDeadline(event, 0, False)
        deadline = self._step_back(event.toordinal(), n)
        return WorkdayDeadline(deadline, n, self.spans_provisional(deadline, event - timedelta(days=1)))

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after `d` (n < 0: before it); `d` is not counted; n = 0 gives d."""
        if n > 0:
            return self._step_forward(d.toordinal(), n)
        if n < 0:
            return self._step_back(d.toordinal(), -n)
        return d

    def count(self, a: date, b: date) -> int:
        """Working days in [a, b], both ends included; 0 when b is before a."""
        if b < a:
            return 0
        lo, hi = a.toordinal(), b.toordinal()
        return sum(bisect_right(days, hi) - bisect_left(days, lo)
                   for days in map(self._workdays, range(a.year, b.year + 1)))

    def _step_back(self, o: int, n: int) -> date:
        year = date.fromordinal(o).year
        while True:
            days = self._workdays(year)
            before = bisect_left(days, o)  # working days of this year strictly before o
            if before >= n:
                return date.fromordinal(days[before - n])
            n -= before
            year = self._next_year(year, -1)

    def _step_forward(self, o: int, n: int) -> date:
        year = date.fromordinal(o).year
        while True:
            days = self._workdays(year)
            after = bisect_right(days, o)  # index of the first working day strictly after o
            if len(days) - after >= n:
                return date.fromordinal(days[after + n - 1])
            n -= len(days) - after
            year = self._next_year(year, 1)

    @staticmethod
    def _next_year(year: int, step: int) -> int:
        if not MINYEAR <= year + step <= MAXYEAR:
            raise ValueError(f"working-day count runs past year {year}")
        return year + step

    # --- per-year data and index ---------------------------------------------------------------

    def _year_data(self, year: int) -> YearData:
        data = self._years.get(year)
        if data is None:
            source = self.year_source(year)
            if source == USER:
                data = self._user[year]
            elif source == OFFICIAL:
                data = YearData(
                    year,
                    {d: _official_name(n) for d, n in chinese_calendar.holidays.items() if d.year == year},
                    {d: _official_name(n) for d, n in chinese_calendar.workdays.items() if d.year == year},
                    f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip(),
                )
            else:
                data = YearData(year, statutory_holidays(year), {}, PROVISIONAL_SOURCE)
            self._years[year] = data
        return data

    def _workdays(self, year: int) -> list[int]:
        days = self._index.get(year)
        if days is None:
            data = self._year_data(year)
            first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
            off = {d.toordinal() for d in data.holidays}
            on = {d.toordinal() for d in data.workdays}
            # Ordinal 1 (0001-01-01) is a Monday, so (o - 1) % 7 >= 5 is Saturday/Sunday.
            days = [o for o in range(first, last + 1) if o in on or ((o - 1) % 7 < 5 and o not in off)]
            self._index[year] = days
        return days


def _official_name(name: str) -> str:
    return _OFFICIAL_NAMES.get(name) or next(
        (h.chinese for h in chinese_calendar.Holiday if h.value == name), name)
