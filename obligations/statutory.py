"""China's statutory public holidays, computed from the rules alone.

The rule is 全国年节及纪念日放假办法 as revised for 2025 (13 days):
元旦 1 day (1 Jan); 春节 4 days, 除夕 through 正月初三; 清明节 1 day on the solar term 清明;
劳动节 2 days (1-2 May); 端午节 1 day (lunar 5/5); 中秋节 1 day (lunar 8/15);
国庆节 3 days (1-3 Oct).

This is what a year looks like before the State Council publishes its arrangement: no
bridging days and no 调休 (adjusted working days). `obligations.workdays` uses it only for
years that neither the chinesecalendar package nor an administrator's file covers.
"""
from __future__ import annotations

from datetime import date, timedelta

from lunar_python import Lunar, Solar


def statutory_holidays(year: int) -> dict[date, str]:
    """Statutory holidays of `year` (Gregorian), date -> Chinese name.

    A day that carries two holidays (中秋节 on 1 October, as in 2020) is one day off and
    keeps both names, joined by "、".
    """
    days: dict[date, str] = {}

    def add(d: date, name: str) -> None:
        days[d] = f"{days[d]}、{name}" if d in days else name

    add(date(year, 1, 1), "元旦")
    # 除夕 is the last day of lunar month 12, which may be the 29th: take the day before 初一.
    new_year = _lunar_to_date(year, 1, 1)
    for offset in range(-1, 3):
        add(new_year + timedelta(days=offset), "春节")
    add(_qingming(year), "清明节")
    add(date(year, 5, 1), "劳动节")
    add(date(year, 5, 2), "劳动节")
    add(_lunar_to_date(year, 5, 5), "端午节")
    add(_lunar_to_date(year, 8, 15), "中秋节")
    for day in (1, 2, 3):
        add(date(year, 10, day), "国庆节")
    return dict(sorted(days.items()))


def _lunar_to_date(lunar_year: int, month: int, day: int) -> date:
    # A positive month is the regular (non-leap) month, which is the one the holidays follow.
    solar = Lunar.fromYmd(lunar_year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> date:
    # 20 April always lies in lunar year `year`, whose solar-term table holds this 清明.
    term = Solar.fromYmd(year, 4, 20).getLunar().getJieQiTable()["清明"]
    return date(term.getYear(), term.getMonth(), term.getDay())
