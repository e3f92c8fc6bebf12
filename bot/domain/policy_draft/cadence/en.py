"""English time expressions."""

from __future__ import annotations

import re

from bot.domain.policy_draft.cadence.base import (
    _EACH_EN,
    _EN_EVENT,
    _EN_MONTHS,
    _EN_PLAN,
    _EN_WD_MAP,
    DEFAULT_WEEKDAY,
    WD_KEYS,
    _after_period,
    _date_rule,
    _day_rule,
    _days_sla,
    _event_rule,
    _hours,
    registry,
)

RULES, _rule = registry()

_EN_WD = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day)?s?|wednesdays?|saturdays?|tuesdays?|thursdays?"
_I = re.IGNORECASE


def _wd(word: str) -> str:
    w = word.lower().rstrip("s") if word.lower() not in ("tues", "thurs") else word.lower()
    return _EN_WD_MAP.get(w) or _EN_WD_MAP.get(w.rstrip("s")) or _EN_WD_MAP[w[:3]]


# before the month-end and SLA rules: "within 5 business days of month end"
@_rule(
    rf"\b(?:within|no later than)\s+(\d{{1,2}})\s+(working |business |calendar )?days\s+(?:after|of|from|following)\s+(?:the\s+)?(?:end\s+of\s+)?(?:{_EACH_EN}\s+)?(month|quarter|year)(?:'s end|[- ]end| ends?| close| closes?)?\b",
    flags=_I,
)
def _en_after_period(m):
    kind = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}[m.group(3).lower()]
    working = bool(m.group(2)) and m.group(2).strip().lower() in ("working", "business")
    return _after_period(kind, int(m.group(1)), working)


@_rule(
    rf"\b(?:every|each|on)\s+({_EN_WD})(?:\s*(?:,|and|&|/)\s*(?:and\s+)?({_EN_WD}))+\b", flags=_I
)
def _en_weekdays(m):
    words = re.findall(_EN_WD, m.group(0), _I)
    keys = sorted({_wd(w) for w in words}, key=WD_KEYS.index)
    if len(keys) < 2:
        return {"kind": "weekly", "weekday": keys[0]}, []
    return {"kind": "weekdays", "days": keys}, []


@_rule(r"\b(?:every|each) weekday\b|\bon weekdays\b|\b(?:every|each) business day\b", flags=_I)
def _en_every_weekday(m):
    return {"kind": "weekdays", "days": list(WD_KEYS[:5]), "adjust": "skip"}, []


@_rule(r"\b(?:monday|mon)\s*(?:to|through|-|–)\s*(friday|fri)\b", flags=_I)
def _en_workweek(m):
    return {"kind": "weekdays", "days": list(WD_KEYS[:5]), "adjust": "skip"}, []


@_rule(
    rf"\b(?:weekly|every week|each week|once a week)\s*(?:,)?\s*(?:on|by|before)\s+(?:the\s+)?({_EN_WD})\b|\b(?:every|each|on|by)\s+({_EN_WD})\b(?:\s+(?:of\s+)?(?:each|every) week)?",
    flags=_I,
)
def _en_weekly_day(m):
    word = m.group(1) or m.group(2)
    head = m.group(0).lower()
    if head.startswith(("on ", "by ")) and "week" not in head:
        # "on Friday" alone is a weekday only when a weekly cadence is near (checked later)
        return {"kind": "weekly", "weekday": _wd(word), "_weak_day": True}, []
    return {"kind": "weekly", "weekday": _wd(word)}, []


@_rule(r"\b(?:weekly|every week|each week|once a week|per week|week(?:ly)? report)\b", flags=_I)
def _en_weekly(m):
    return {"kind": "weekly", "weekday": DEFAULT_WEEKDAY}, ["weekday not stated: Friday assumed"]


@_rule(
    rf"\b(before|by|no later than|on|prior to)\s+the\s+(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+(?:{_EACH_EN}|the following|the next)\s+month\b",
    flags=_I,
)
def _en_month_day(m):
    notes: list[str] = []
    before = m.group(1).lower() in ("before", "prior to")
    rule = {"kind": "monthly", **_day_rule(int(m.group(2)), before, notes)}
    if re.search(r"following|next", m.group(0), _I):
        rule["covers"] = "previous"
    return rule, notes


@_rule(
    r"\b(?:at the |by the )?(?:end of (?:each|every|the) month|month[- ]end|last (?:working |business )?day of (?:each|every|the) month)\b",
    flags=_I,
)
def _en_month_end(m):
    return {"kind": "monthly", "day": -1}, []


@_rule(
    rf"\b(before|by|no later than|prior to)\s+the\s+(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+the\s+first\s+month\s+of\s+{_EACH_EN}\s+quarter\b",
    flags=_I,
)
def _en_quarter_first_month(m):
    notes: list[str] = []
    before = m.group(1).lower() in ("before", "prior to")
    return {"kind": "quarterly", "month": 1, **_day_rule(int(m.group(2)), before, notes)}, notes


@_rule(r"\b(?:at the |by the )?end of (?:each|every|the) quarter\b|\bquarter[- ]end\b", flags=_I)
def _en_quarter_end(m):
    return {"kind": "quarterly", "month": 3, "day": -1}, []


@_rule(
    rf"\b(?:quarterly|annual|yearly|monthly|weekly)\s+(?:[a-z-]+\s+){{0,3}}?{_EN_PLAN}\b", flags=_I
)
def _en_period_plan(m):
    kind = {
        "quarterly": "quarterly",
        "annual": "yearly",
        "yearly": "yearly",
        "monthly": "monthly",
        "weekly": "weekly",
    }[m.group(0).split()[0].lower()]
    if kind == "weekly":
        return {"kind": "weekly", "weekday": DEFAULT_WEEKDAY}, [
            "weekday not stated: Friday assumed"
        ]
    return {"kind": kind, "before_start": True}, [
        f"'{m.group(0)}' read as a plan: due before the period starts"
    ]


@_rule(r"\b(?:quarterly|every quarter|each quarter|once a quarter|per quarter)\b", flags=_I)
def _en_quarterly(m):
    return {"kind": "quarterly", "month": 3, "day": -1}, [
        "day not stated: the quarter's last day assumed"
    ]


@_rule(r"\b(?:monthly|every month|each month|once a month|per month)\b", flags=_I)
def _en_monthly(m):
    return {"kind": "monthly", "day": -1}, ["day not stated: the month's last day assumed"]


@_rule(
    rf"\b(before|by|no later than|on)\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({'|'.join(_EN_MONTHS)})\b|\b(before|by|no later than|on)\s+({'|'.join(_EN_MONTHS)})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b",
    flags=_I,
)
def _en_year_date(m):
    if m.group(1):
        before, day, month = m.group(1), int(m.group(2)), _EN_MONTHS[m.group(3).lower()]
    else:
        before, month, day = m.group(4), _EN_MONTHS[m.group(5).lower()], int(m.group(6))
    notes: list[str] = []
    rule = _date_rule(month, day, before.lower() == "before", notes)
    return {"kind": "yearly", "month": month, **rule}, notes


@_rule(r"\b(?:at the )?(?:end of (?:each|every|the) year|year[- ]end)\b", flags=_I)
def _en_year_end(m):
    return {"kind": "yearly", "month": 12, "day": -1}, []


@_rule(r"\b(?:at the )?(?:start|beginning) of (?:each|every|the) year\b", flags=_I)
def _en_year_start(m):
    return {"kind": "yearly", "month": 1, "day": -1}, [
        f"'{m.group(0)}' read as by the end of January"
    ]


@_rule(r"\b(?:annually|yearly|every year|each year|once a year|per year|annual)\b", flags=_I)
def _en_yearly(m):
    return {"kind": "yearly", "month": 12, "day": -1}, ["date not stated: 31 December assumed"]


@_rule(
    rf"\b(\d{{1,3}})\s+(working |business |calendar )?days?\s+(?:before|prior to|ahead of)\s+(?:the\s+|each\s+|an?\s+)?(?:[a-z]+\s+)?({_EN_EVENT})(?:'s)?(?:\s+(?:starts?|start date|begins?|kick-?off))?",
    flags=_I,
)
def _en_before_event(m):
    working = bool(m.group(2)) and m.group(2).strip().lower() in ("working", "business")
    return _event_rule(m.group(3), "start", -int(m.group(1)), working)


@_rule(
    rf"\bwithin\s+(\d{{1,3}})\s+(working |business |calendar )?days?\s+(?:after|of|following|from)\s+(?:the\s+|each\s+|an?\s+)?(?:end\s+of\s+(?:the\s+|each\s+)?)?(?:[a-z]+\s+)?({_EN_EVENT})(?:'s end)?(?:\s+(?:ends?|closes?|is over|finishes))?|\b(\d{{1,3}})\s+(working |business |calendar )?days?\s+after\s+(?:the\s+|each\s+)?(?:[a-z]+\s+)?({_EN_EVENT})\s+(?:ends?|closes?|is over)",
    flags=_I,
)
def _en_after_event(m):
    n, unit, event = (
        (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
    )
    working = bool(unit) and unit.strip().lower() in ("working", "business")
    return _event_rule(event, "end", int(n), working)


@_rule(
    r"\bwithin\s+(\d+(?:\.\d+)?)\s+(business |working )?hours?\b|\bwithin\s+(?:an|one)\s+(business |working )?hour\b",
    flags=_I,
)
def _en_hours(m):
    h = float(m.group(1)) if m.group(1) else 1.0
    rule = {"kind": "sla", "hours": _hours(h)}
    if m.group(2) or m.group(3):  # "within 4 business hours": only working hours count
        rule["unit"] = "working"
    return rule, []


@_rule(r"\bwithin\s+(\d+)\s+min(?:ute)?s?\b", flags=_I)
def _en_minutes(m):
    return {"kind": "sla", "hours": _hours(int(m.group(1)) / 60)}, []


@_rule(
    r"\b(?:within|no later than|not later than)\s+(\d{1,2})\s+(working |business |calendar )?days?\b",
    flags=_I,
)
def _en_days_within(m):
    working = (m.group(2) or "").strip().lower() in ("working", "business")
    return _days_sla(int(m.group(1)), working, "working days" if working else "days")


@_rule(r"\b(?:the )?same (?:working |business )?day\b", flags=_I)
def _en_same_day(m):
    return {"kind": "sla", "hours": 24}, ["'same day' read as within 24 hours"]
