"""How policy values read to people, in Chinese and English: due rules ("每月5日前" /
"before the 5th of each month"), numbers and times. Pure functions of the model."""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from bot.domain.policy.model import DueRule

WEEKDAY_ZH = ("一", "二", "三", "四", "五", "六", "日")
WEEKDAY_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_EN_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_EN = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def is_en(lang: str | None) -> bool:
    return bool(lang) and str(lang).lower().startswith("en")


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def num(x: float) -> str:
    """1.0 -> '1', 0.5 -> '0.5'."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:g}"


def hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def describe_due(rule: DueRule, lang: str = "zh") -> str:
    """E.g. "每周五 18:00" / "every Friday 18:00"."""
    en = is_en(lang)
    k = rule.kind
    if k == "weekly":
        assert rule.weekday is not None
        t = hhmm(rule.time)
        if en:
            return f"every {WEEKDAY_EN[rule.weekday]} {t}"
        return f"每周{WEEKDAY_ZH[rule.weekday]} {t}"
    if k == "weekdays":
        if en:
            return "every " + ", ".join(WEEKDAY_EN_SHORT[d] for d in rule.days)
        return "每周" + "、".join(WEEKDAY_ZH[d] for d in rule.days)
    if k in ("monthly", "quarterly", "yearly"):
        return _describe_calendar(rule, en)
    if k == "activity":
        return _describe_activity(rule, en)
    if k == "sla":
        h = num(rule.hours or 0)
        working = rule.unit == "working"
        if en:
            return f"within {h} {'working ' if working else ''}hour" + ("" if h == "1" else "s")
        return f"{h}个工作小时内" if working else f"{h}小时内"
    return k


# (kind, form) → (English, Chinese). Placeholders: {n} the day, {nth} its ordinal, {back} /
# {back_nth} the day counted from the month's end, {m} / {mth} the month within the quarter
# or year, {month} its English name.
_CALENDAR_WORDING: dict[tuple[str, str], tuple[str, str]] = {
    ("monthly", "before"): ("before the {nth} of each month", "每月{n}日前"),
    ("monthly", "last"): ("on the last day of each month", "每月最后一天"),
    ("monthly", "from_end"): ("on the {back_nth}-to-last day of each month", "每月倒数第{back}天"),
    ("monthly", "day"): ("on the {nth} of each month", "每月{n}日"),
    ("quarterly", "before"): (
        "before the {nth} of the {mth} month of each quarter",
        "每季度第{m}个月{n}日前",
    ),
    ("quarterly", "last"): (
        "on the last day of the {mth} month of each quarter",
        "每季度第{m}个月最后一天",
    ),
    ("quarterly", "from_end"): (
        "on the {back_nth}-to-last day of the {mth} month of each quarter",
        "每季度第{m}个月倒数第{back}天",
    ),
    ("quarterly", "day"): (
        "on the {nth} of the {mth} month of each quarter",
        "每季度第{m}个月{n}日",
    ),
    ("yearly", "before"): ("before {month} {n} each year", "每年{m}月{n}日前"),
    ("yearly", "last"): ("on the last day of {month} each year", "每年{m}月最后一天"),
    ("yearly", "from_end"): (
        "on the {back_nth}-to-last day of {month} each year",
        "每年{m}月倒数第{back}天",
    ),
    ("yearly", "day"): ("every year on {month} {n}", "每年{m}月{n}日"),
    ("monthly", "workday"): ("on the {nth} working day of each month", "每月第{n}个工作日"),
    ("quarterly", "workday"): (
        "on the {nth} working day of the {mth} month of each quarter",
        "每季度第{m}个月第{n}个工作日",
    ),
    ("yearly", "workday"): (
        "on the {nth} working day of {month} each year",
        "每年{m}月第{n}个工作日",
    ),
}


def _describe_calendar(rule: DueRule, en: bool) -> str:
    k = rule.kind
    if rule.before_start:
        unit_en = {"monthly": "month", "quarterly": "quarter", "yearly": "year"}[k]
        unit_zh = {"monthly": "月", "quarterly": "季度", "yearly": "年"}[k]
        return f"before each {unit_en} starts" if en else f"每{unit_zh}开始前"
    n = next(v for v in (rule.before_day, rule.workday, rule.day) if v is not None)
    m = rule.month or 1
    if rule.before_day is not None:
        form = "before"
    elif rule.workday is not None:
        form = "workday"
    elif k == "quarterly" and m == 3 and n == -1:
        return "on the last day of each quarter" if en else "每季度最后一天"
    else:
        form = "last" if n == -1 else "from_end" if n < 0 else "day"
    wording_en, wording_zh = _CALENDAR_WORDING[(k, form)]
    values = {"n": n, "back": -n, "m": m}
    if en:  # ordinals and month names only where a template asks (back_nth needs n < 0)
        values |= {"nth": ordinal(n), "back_nth": ordinal(-n) if n < 0 else "", "mth": ordinal(m)}
        values["month"] = MONTH_EN[m]
    return (wording_en if en else wording_zh).format(**values)


def _describe_activity(rule: DueRule, en: bool) -> str:
    off = rule.offset or 0
    n = abs(off)
    working = rule.unit == "working"
    start = rule.anchor == "start"
    a_zh = "活动开始" if start else "活动结束"
    a_en = "the activity starts" if start else "the activity ends"
    if off == 0:
        return f"on the day {a_en}" if en else f"{a_zh}当天"
    if en:
        days = ("working day" if working else "day") + ("" if n == 1 else "s")
        if off < 0:
            return f"{n} {days} before {a_en}"
        return f"within {n} {days} after {a_en}"
    days_zh = "个工作日" if working else "天"
    if off < 0:
        return f"{a_zh}前{n}{days_zh}"
    return f"{a_zh}后{n}{days_zh}内"
