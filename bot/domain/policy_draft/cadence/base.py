"""What the time-expression rules share: the Timing they produce, the rule registry (in
registration order = priority), word tables and helpers for days and events."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WD_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ZH_WD = {c: WD_KEYS[i] for i, c in enumerate("一二三四五六日")} | {"天": "sun", "七": "sun"}
_ZH_WD |= {str(i + 1): WD_KEYS[i] for i in range(7)}
_EN_WD_MAP = {
    "monday": "mon", "mon": "mon", "tuesday": "tue", "tue": "tue", "tues": "tue",
    "wednesday": "wed", "wed": "wed", "thursday": "thu", "thu": "thu", "thur": "thu",
    "thurs": "thu", "friday": "fri", "fri": "fri", "saturday": "sat", "sat": "sat",
    "sunday": "sun", "sun": "sun",
}  # fmt: skip
_EN_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november "
        "december".split()
    )
}
_EN_MONTHS |= {m[:3]: i for m, i in list(_EN_MONTHS.items())} | {"sept": 9}

DEFAULT_WEEKDAY = "fri"


@dataclass
class Timing:
    due: dict[str, Any]
    start: int
    end: int
    text: str
    notes: list[str] = field(default_factory=list)
    # 2: an explicit cadence; 1: read from an adjective such as 年度/月度 next to a plan
    strength: int = 2
    name: str = ""  # the deliverable the expression names ("月度执行计划"), if it does
    priority: int = 0  # the rule's rank: lower = more specific

    @property
    def kind(self) -> str:
        return self.due["kind"]


# ---------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------

_WD = r"[一二三四五六日天1-7]"
_ZH_EVENT = r"(?:活动|项目|会议|展会|发布会|培训|招聘会|评审会|大促|促销|上线|入职|离职)"
_EN_EVENT = r"(?:event|activity|project|campaign|launch|meeting|workshop|webinar|session|start date|first day|go-live|trade show|exhibition|conference|training|course)s?"
_PLAN = r"(?:计划|规划|方案|预算|目标|排期|排班)"
_REPORT = r"(?:报告|报表|总结|复盘|评估|分析|考核|盘点|汇报|述职|月报|季报|年报|周报)"
_EN_PLAN = r"(?:plans?|planning|budgets?|targets?|goals?|roadmaps?|schedules?|rosters?)"
_EN_REPORT = (
    r"(?:reports?|reviews?|summar(?:y|ies)|analys[ie]s|assessments?|audits?|retrospectives?)"
)
_EACH_EN = r"(?:each|every|per|a|the)"


def _int(s: str | None) -> int | None:
    return int(s) if s else None


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date_rule(month: int, day: int, before: bool, notes: list[str]) -> dict[str, Any]:
    """A date in a given month; days past the 28th are counted from the month's end, so
    "4月30日前" is exactly the 29th of April (day = -2)."""
    last = _MONTH_DAYS[month - 1]
    due = day - 1 if before else day
    if 29 <= due <= last:
        return {"day": due - last - 1}
    if due > last:
        notes.append(f"day {day} is past the month's end: read as its last day")
        return {"day": -1}
    if before and due == 28:
        return {"day": 28}
    return _day_rule(day, before, notes)


def _day_rule(day: int, before: bool, notes: list[str]) -> dict[str, Any]:
    """A day of the month as "day" or "before_day", within what the format accepts."""
    if before:
        if day <= 1:
            notes.append("'before the 1st' read as due on the 1st")
            return {"day": 1}
        if day > 28:
            notes.append(f"day {day} is past 28: read as the month's last day")
            return {"day": -1}
        return {"before_day": day}
    if day > 28:
        notes.append(f"day {day} is past 28: read as the month's last day")
        return {"day": -1}
    return {"day": max(day, 1)}


# the drafts' working hours are 09:30-18:30 (render): a working day is 9 working hours
WORKDAY_HOURS = 9


def _days_sla(n: int, working: bool, word: str) -> tuple[dict[str, Any], list[str]]:
    """ "N个工作日内" after something logged in chat: N working days of working hours, so
    a weekend or a holiday does not eat into it; calendar days are N x 24 clock hours."""
    if working:
        h = n * WORKDAY_HOURS
        return {"kind": "sla", "hours": h, "unit": "working"}, [
            f"{n} {word} drafted as {h} working hours (09:30-18:30 on working days)"
        ]
    return {"kind": "sla", "hours": n * 24}, [
        f"{n} {word} read as {n * 24} hours after the request"
    ]


MAX_WORKDAY = 23  # the format's limit for "the Nth working day of the month"


def _after_period(kind: str, n: int, working: bool) -> tuple[dict[str, Any], list[str]] | None:
    """ "within N (working) days after the month / quarter / year ends": due in the next
    period's first month, on its Nth working day or by day N; the task covers the period
    that ended."""
    rule: dict[str, Any] = {"kind": kind}
    if kind != "monthly":
        rule["month"] = 1
    notes: list[str] = []
    if working:
        if not 1 <= n <= MAX_WORKDAY:
            return None
        rule["workday"] = n
    else:
        rule |= _day_rule(n, False, notes)
    rule["covers"] = "previous"
    return rule, notes


Handler = Callable[[re.Match], "tuple[dict[str, Any], list[str]] | None"]
Rule = tuple[re.Pattern, Handler, int]


def registry() -> tuple[list[Rule], Callable]:
    """A module's rule list and the decorator that appends to it (file order = priority)."""
    rules: list[Rule] = []

    def rule(pattern: str, strength: int = 2, flags: int = 0):
        def register(fn: Handler) -> Handler:
            rules.append((re.compile(pattern, flags), fn, strength))
            return fn

        return register

    return rules, rule


def _event_rule(event: str, anchor: str, offset: int, working: bool):
    rule: dict[str, Any] = {"kind": "activity", "anchor": anchor, "offset": offset}
    if working:
        rule["unit"] = "working"
    notes = []
    if event.lower().rstrip("s") not in (
        "活动",
        "项目",
        "event",
        "activity",
        "project",
        "campaign",
    ):
        notes.append(f"counted from '{event}', taken as an activity in DutyBot")
    return rule, notes


def _hours(h: float) -> int | float:
    return int(h) if float(h).is_integer() else round(h, 3)
