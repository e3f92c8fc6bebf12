"""Statutory public holidays of mainland China computed from the rules, for years that the
official schedule (``chinesecalendar``) does not cover yet.

《全国年节及纪念日放假办法》 (2025 revision) fixes the days themselves: 元旦 1 day; 春节 除夕
to 初三 (4 days); 清明 1 day (the 清明 solar term); 劳动节 5/1–5/2; 端午 1 day (lunar 5/5);
中秋 1 day (lunar 8/15); 国庆 10/1–10/3. What the State Council announces each year on top of
that (the 调休 make-up working days and the days moved next to a weekend) cannot be computed;
those stay for the override file. Lunar dates come from ``lunardate``, the solar term from
``chinesecalendar``'s own solar-term table; nothing here is a hand-written date table.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from lunardate import LunarDate

__all__ = ["statutory_holidays"]


def _lunar(year: int, month: int, day: int) -> date | None:
    try:
        return LunarDate(year, month, day).to_solar_date()
    except ValueError:  # outside lunardate's table (1900-2099): solar holidays only
        return None


def _qingming(year: int) -> date:
    for day, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10)):
        if name == "清明":
            return day
    return date(year, 4, 5)  # only reachable outside the solar-term table's years


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """The statutory days off of ``year`` by date, with their names (zh)."""
    days: dict[date, str] = {date(year, 1, 1): "元旦"}
    spring = _lunar(year, 1, 1)
    if spring is not None:
        for offset in range(-1, 3):  # 除夕 is the day before 初一, whatever the month's length
            days[spring + timedelta(days=offset)] = "春节"
    days[_qingming(year)] = "清明节"
    days[date(year, 5, 1)] = days[date(year, 5, 2)] = "劳动节"
    for month, day, name in ((5, 5, "端午节"), (8, 15, "中秋节")):
        solar = _lunar(year, month, day)
        if solar is not None:
            days[solar] = name
    for d in (1, 2, 3):
        days[date(year, 10, d)] = "国庆节"
    return days
