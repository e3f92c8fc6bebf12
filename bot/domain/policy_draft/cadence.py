"""Time expressions in Chinese and English -> due rules of the policy format.

``find_timings(text)`` returns every cadence or deadline stated in a (normalised) sentence,
as the ``[duties.due]`` table it stands for, with review notes for whatever was guessed
(a weekday for "每周", a day for "每月"). Expressions are tried most specific first; a
span taken by one is not matched again by a vaguer one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.policy_draft.clock import clock_near

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
_EN_EVENT = r"(?:event|activity|project|campaign|launch|meeting|workshop|webinar|session)s?"
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


# ---------------------------------------------------------------------------------------
# Chinese
# ---------------------------------------------------------------------------------------

Handler = Callable[[re.Match], "tuple[dict[str, Any], list[str]] | None"]
_RULES: list[tuple[re.Pattern, Handler, int]] = []


def _rule(pattern: str, strength: int = 2, flags: int = 0):
    def register(fn: Handler) -> Handler:
        _RULES.append((re.compile(pattern, flags), fn, strength))
        return fn

    return register


@_rule(rf"每个?(?:周|星期|礼拜)({_WD})\s*(?:(?:、|，|,|及|和|与|/)\s*(?:周|星期)?({_WD}))+")
def _zh_weekdays(m):
    days = re.findall(_WD, m.group(0).split("每", 1)[1].replace("星期", "").replace("礼拜", ""))
    keys = sorted({_ZH_WD[d] for d in days}, key=WD_KEYS.index)
    return {"kind": "weekdays", "days": keys}, []


@_rule(rf"每个?(?:周|星期)({_WD})\s*(?:至|到|-|~|—)\s*(?:周|星期)?({_WD})")
def _zh_weekday_range(m):
    a, b = WD_KEYS.index(_ZH_WD[m.group(1)]), WD_KEYS.index(_ZH_WD[m.group(2)])
    if b < a:
        return None
    return {"kind": "weekdays", "days": list(WD_KEYS[a : b + 1])}, []


@_rule(
    r"每个工作日|工作日每天|每天|每日|逐日|日报|daily|every (?:working |business )?day|each (?:working |business )?day",
    flags=re.I,
)
def _zh_daily(m):
    notes = []
    if not re.search(r"工作日|working|business", m.group(0), re.I):
        notes.append("daily read as every working day (Mon-Fri, skipping days off)")
    return {"kind": "weekdays", "days": list(WD_KEYS[:5]), "adjust": "skip"}, notes


@_rule(rf"每个?(?:周|星期|礼拜)({_WD})(?!\s*次)")
def _zh_weekly_day(m):
    return {"kind": "weekly", "weekday": _ZH_WD[m.group(1)]}, []


@_rule(r"每个?(?:周|星期|礼拜)|周度|按周|每一周")
def _zh_weekly(m):
    return {"kind": "weekly", "weekday": DEFAULT_WEEKDAY}, ["weekday not stated: Friday assumed"]


@_rule(r"周报|周例会|周会")
def _zh_weekly_report(m):
    return {"kind": "weekly", "weekday": DEFAULT_WEEKDAY}, [
        f"'{m.group(0)}' read as weekly; weekday not stated: Friday assumed"
    ]


@_rule(r"(每个?月|次月|下个?月|每月度)(?:的)?(?:第)?(\d{1,2})\s*(?:日|号)\s*(之前|以前|前)?")
def _zh_month_day(m):
    notes: list[str] = []
    rule = {"kind": "monthly", **_day_rule(int(m.group(2)), bool(m.group(3)), notes)}
    if m.group(1) in ("次月", "下月", "下个月"):
        rule["covers"] = "previous"
    return rule, notes


@_rule(r"每个?月(?:的)?月?(?:最后[一1]个工作日|最后[一1]天|底|末)|(?<!年)月底|(?<!年)月末|月度终了")
def _zh_month_end(m):
    return {"kind": "monthly", "day": -1}, []


@_rule(r"每个?月(?:的)?第[一1]个工作日")
def _zh_month_first_workday(m):
    return {"kind": "monthly", "day": 1, "adjust": "next_workday"}, []


@_rule(r"每个?月(?:的)?上旬")
def _zh_month_early(m):
    return {"kind": "monthly", "day": 10}, [f"'{m.group(0)}' read as by the 10th"]


@_rule(r"每个?月(?:的)?下旬")
def _zh_month_late(m):
    return {"kind": "monthly", "day": -1}, [f"'{m.group(0)}' read as by the month's last day"]


@_rule(r"每个?月(?:的)?(?:初|前几天)|(?<![年季])月初")
def _zh_month_start(m):
    return {"kind": "monthly", "day": 5}, [f"'{m.group(0)}' read as by the 5th"]


@_rule(r"每个?月(?:的)?中旬|(?<!年)月中")
def _zh_month_mid(m):
    return {"kind": "monthly", "day": 20}, [f"'{m.group(0)}' read as by the 20th"]


@_rule(
    r"每\s*[两2]\s*周|每隔[一1]周|隔周|双周|每半个?月|biweekly|bi-weekly|fortnightly|"
    r"every (?:other|two|2) weeks?",
    flags=re.I,
)
def _fortnightly(m):
    return {"kind": "weekly", "weekday": DEFAULT_WEEKDAY}, [
        f"'{m.group(0)}': drafted as weekly on Friday (the format has no fortnightly rule)"
    ]


@_rule(
    r"每半年|半年度|每年两次|semi-?annually|twice a year|every (?:six|6) months|half-?yearly",
    flags=re.I,
)
def _half_yearly(m):
    return {"kind": "yearly", "month": 6, "day": -1}, [
        f"'{m.group(0)}': drafted as yearly by 30 June; copy it for 31 December"
    ]


@_rule(r"每个?月|按月|每月度")
def _zh_monthly(m):
    return {"kind": "monthly", "day": -1}, ["day not stated: the month's last day assumed"]


@_rule(r"每个?季度?(?:的)?(?:首月|第一个月|第1个月)(?:的)?(\d{1,2})\s*(?:日|号)\s*(之前|以前|前)?")
def _zh_quarter_first_month(m):
    notes: list[str] = []
    return {
        "kind": "quarterly",
        "month": 1,
        **_day_rule(int(m.group(1)), bool(m.group(2)), notes),
    }, notes


@_rule(r"(?:每个?季度?|季度)(?:结束)?后(\d{1,2})\s*(?:个)?(工作日|天|日)(?:内|之内|以内)?")
def _zh_after_quarter(m):
    n = int(m.group(1))
    notes = ["counted in calendar days"] if m.group(2) == "工作日" else []
    return {
        "kind": "quarterly",
        "month": 1,
        **_day_rule(n, False, notes),
        "covers": "previous",
    }, notes


@_rule(r"每个?季度?(?:的)?(?:末|最后[一1]个月底|最后[一1]天|结束前)|季末|季度末|季度结束前")
def _zh_quarter_end(m):
    return {"kind": "quarterly", "month": 3, "day": -1}, []


@_rule(r"每个?季度?(?:的)?初|季初|季度初")
def _zh_quarter_start(m):
    return {"kind": "quarterly", "month": 1, "day": 10}, [
        f"'{m.group(0)}' read as by the 10th of the quarter's first month"
    ]


@_rule(r"每个?季度|按季度?|每季|季度性")
def _zh_quarterly(m):
    return {"kind": "quarterly", "month": 3, "day": -1}, [
        "day not stated: the quarter's last day assumed"
    ]


@_rule(r"季报|季度(?:报告|总结|复盘|述职)")
def _zh_quarter_report(m):
    return {"kind": "quarterly", "month": 3, "day": -1}, [
        f"'{m.group(0)}' read as due at each quarter's end"
    ]


@_rule(r"每年(?:的)?(\d{1,2})\s*月(?:份)?(?:的)?(\d{1,2})\s*(?:日|号)\s*(之前|以前|前)?")
def _zh_year_date(m):
    month = int(m.group(1))
    if not 1 <= month <= 12:
        return None
    notes: list[str] = []
    rule = _date_rule(month, int(m.group(2)), bool(m.group(3)), notes)
    return {"kind": "yearly", "month": month, **rule}, notes


@_rule(r"每年(?:的)?(\d{1,2})\s*月(?:份)?(底|末|初)?")
def _zh_year_month(m):
    month = int(m.group(1))
    if not 1 <= month <= 12:
        return None
    if m.group(2) == "初":
        return {"kind": "yearly", "month": month, "day": 5}, [f"'{m.group(0)}' read as by the 5th"]
    notes = [] if m.group(2) else ["day not stated: the month's last day assumed"]
    return {"kind": "yearly", "month": month, "day": -1}, notes


@_rule(r"(?:每年|每个年度)?(?:的)?(?:年底|年末|年终|岁末)")
def _zh_year_end(m):
    return {"kind": "yearly", "month": 12, "day": -1}, []


@_rule(r"(?:每年)?(?:的)?(?:年初|年度初|每年初)")
def _zh_year_start(m):
    return {"kind": "yearly", "month": 1, "day": -1}, [
        f"'{m.group(0)}' read as by the end of January"
    ]


# Adjectives next to a deliverable: 年度/季度/月度/周 + 计划 -> due before the period;
# + 报告 -> due at its end. "季度/月度执行计划" gives both a quarterly and a monthly plan.
_PERIOD = {"年度": "yearly", "全年": "yearly", "年": "yearly", "季度": "quarterly",
           "月度": "monthly", "月": "monthly", "周": "weekly", "每周": "weekly"}  # fmt: skip


@_rule(
    rf"((?:年度|全年|季度|月度))(?:\s*[/、和及与]\s*((?:年度|季度|月度)))?[\u4e00-\u9fff]{{0,6}}?{_PLAN}"
)
def _zh_period_plan(m):
    return _adjective_rules(m, plan=True)


@_rule(
    rf"((?:年度|季度|月度))(?:\s*[/、和及与]\s*((?:年度|季度|月度)))?[\u4e00-\u9fff]{{0,6}}?{_REPORT}"
)
def _zh_period_report(m):
    return _adjective_rules(m, plan=False)


def _adjective_rules(m: re.Match, plan: bool):
    words = [g for g in m.groups() if g]
    noun = m.group(0)[(m.end(2) if m.group(2) else m.end(1)) - m.start(0) :]
    rules = []
    for word in words:
        kind = _PERIOD[word]
        if plan:
            rule = {"kind": kind, "before_start": True}
        elif kind == "monthly":
            rule = {"kind": "monthly", "day": -1}
        elif kind == "quarterly":
            rule = {"kind": "quarterly", "month": 3, "day": -1}
        else:
            rule = {"kind": "yearly", "month": 12, "day": -1}
        rules.append({**rule, "_name": word + noun})
    word = "plan: due before the period starts" if plan else "report: due at the period's end"
    return rules, [f"'{m.group(0)}' read as a {word}"]


@_rule(r"月报|月度(?:报告|总结|复盘|分析)")
def _zh_month_report(m):
    return {"kind": "monthly", "day": -1}, [f"'{m.group(0)}' read as due at each month's end"]


@_rule(r"定期|periodically|regularly|on a regular basis", flags=re.I)
def _regularly(m):
    return {"kind": "monthly", "day": -1}, [f"'{m.group(0)}' (no period stated): monthly assumed"]


@_rule(r"立即|立刻|马上|第一时间|\bimmediately\b|\bpromptly\b", flags=re.I)
def _at_once(m):
    return {"kind": "sla", "hours": 1}, [f"'{m.group(0)}' read as within 1 hour"]


@_rule(r"每年|每个年度|每一年|按年")
def _zh_yearly(m):
    return {"kind": "yearly", "month": 12, "day": -1}, ["date not stated: 31 December assumed"]


@_rule(
    rf"({_ZH_EVENT})(?:正式)?(?:开始|启动|开展|举办|召开|举行|执行)?(?:之前|前|以前)(\d{{1,3}})\s*(?:个)?(工作日|天|日|自然日|周|星期)"
)
def _zh_before_event(m):
    n = int(m.group(2)) * (7 if m.group(3) in ("周", "星期") else 1)
    return _event_rule(m.group(1), "start", -n, m.group(3) == "工作日")


@_rule(
    rf"({_ZH_EVENT})(?:正式)?(?:开始|启动|开展|举办|召开|举行|执行)?(?:前|之前)?(?:提前)(\d{{1,3}})\s*(?:个)?(工作日|天|日|自然日)"
)
def _zh_before_event2(m):
    return _event_rule(m.group(1), "start", -int(m.group(2)), m.group(3) == "工作日")


@_rule(
    rf"({_ZH_EVENT})(?:开始|启动|开展|举办|召开|举行)?(?:后|之后)(\d{{1,3}})\s*(?:个)?(工作日|天|日|自然日)|({_ZH_EVENT})(?:结束|完成|结项|落地|闭幕|收尾|结案)(?:后|之后)?(\d{{1,3}})\s*(?:个)?(工作日|天|日|自然日|周|星期)"
)
def _zh_after_event(m):
    if m.group(1):
        return _event_rule(m.group(1), "start", int(m.group(2)), m.group(3) == "工作日")
    weeks = m.group(6) in ("周", "星期")
    n = int(m.group(5)) * (7 if weeks else 1)
    return _event_rule(m.group(4), "end", n, m.group(6) == "工作日")


@_rule(rf"({_ZH_EVENT})(?:开始|举办|召开)?(?:当天|当日)|({_ZH_EVENT})(?:结束|完成)(?:当天|当日)")
def _zh_event_day(m):
    return _event_rule(m.group(1) or m.group(2), "end" if m.group(2) else "start", 0, False)


@_rule(r"提前(\d{1,3})\s*(?:个)?(工作日|天|日)")
def _zh_ahead(m):
    rule, notes = _event_rule("活动", "start", -int(m.group(1)), m.group(2) == "工作日")
    return rule, notes + ["'提前' with no event named: counted from the activity's start"]


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


@_rule(r"(\d+(?:\.\d+)?)\s*(?:个)?(?:小时|钟头|h\b)\s*(?:内|之内|以内)")
def _zh_hours(m):
    return {"kind": "sla", "hours": _hours(float(m.group(1)))}, []


@_rule(r"(\d+)\s*分钟\s*(?:内|之内|以内)")
def _zh_minutes(m):
    return {"kind": "sla", "hours": _hours(int(m.group(1)) / 60)}, []


@_rule(r"(\d{1,2})\s*(?:个)?(工作日|自然日|天|日)\s*(?:内|之内|以内)")
def _zh_days_within(m):
    n = int(m.group(1))
    word = "working days" if m.group(2) == "工作日" else "days"
    return {"kind": "sla", "hours": n * 24}, [
        f"{n} {word} read as {n * 24} hours after the request"
    ]


@_rule(r"(?:当天|当日)(?:内)?(?:完成|回复|处理|反馈|提交|响应)")
def _zh_same_day(m):
    return {"kind": "sla", "hours": 24}, ["'当天' read as within 24 hours"]


# ---------------------------------------------------------------------------------------
# English
# ---------------------------------------------------------------------------------------

_EN_WD = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day)?s?|wednesdays?|saturdays?|tuesdays?|thursdays?"
_I = re.IGNORECASE


def _wd(word: str) -> str:
    w = word.lower().rstrip("s") if word.lower() not in ("tues", "thurs") else word.lower()
    return _EN_WD_MAP.get(w) or _EN_WD_MAP.get(w.rstrip("s")) or _EN_WD_MAP[w[:3]]


@_rule(
    rf"\b(?:every|each|on)\s+({_EN_WD})(?:\s*(?:,|and|&|/)\s*(?:and\s+)?({_EN_WD}))+\b", flags=_I
)
def _en_weekdays(m):
    words = re.findall(_EN_WD, m.group(0), _I)
    keys = sorted({_wd(w) for w in words}, key=WD_KEYS.index)
    if len(keys) < 2:
        return {"kind": "weekly", "weekday": keys[0]}, []
    return {"kind": "weekdays", "days": keys}, []


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


@_rule(
    rf"\bwithin\s+(\d{{1,2}})\s+(working |business |calendar )?days\s+(?:after|of|from)\s+(?:the\s+end\s+of\s+)?{_EACH_EN}\s+quarter(?:'s end| ends?)?\b",
    flags=_I,
)
def _en_after_quarter(m):
    notes = ["counted in calendar days"] if m.group(2) and m.group(2).strip() != "calendar" else []
    return {
        "kind": "quarterly",
        "month": 1,
        **_day_rule(int(m.group(1)), False, notes),
        "covers": "previous",
    }, notes


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
    r"\bwithin\s+(\d+(?:\.\d+)?)\s+(?:business |working )?hours?\b|\bwithin\s+(?:an|one)\s+hour\b",
    flags=_I,
)
def _en_hours(m):
    h = float(m.group(1)) if m.group(1) else 1.0
    return {"kind": "sla", "hours": _hours(h)}, []


@_rule(r"\bwithin\s+(\d+)\s+min(?:ute)?s?\b", flags=_I)
def _en_minutes(m):
    return {"kind": "sla", "hours": _hours(int(m.group(1)) / 60)}, []


@_rule(r"\bwithin\s+(\d{1,2})\s+(working |business |calendar )?days?\b", flags=_I)
def _en_days_within(m):
    n = int(m.group(1))
    return {"kind": "sla", "hours": n * 24}, [f"{n} days read as {n * 24} hours after the request"]


@_rule(r"\b(?:the )?same (?:working |business )?day\b", flags=_I)
def _en_same_day(m):
    return {"kind": "sla", "hours": 24}, ["'same day' read as within 24 hours"]


def _hours(h: float) -> int | float:
    return int(h) if float(h).is_integer() else round(h, 3)


# ---------------------------------------------------------------------------------------


def find_timings(text: str) -> list[Timing]:
    """Every due rule stated in ``text`` (already normalised), in text order."""
    taken: list[tuple[int, int]] = []
    found: list[Timing] = []
    for priority, (pattern, handler, strength) in enumerate(_RULES):
        for m in pattern.finditer(text):
            s, e = m.span()
            if any(s < b and a < e for a, b in taken):
                continue
            result = handler(m)
            if result is None:
                continue
            rules, notes = result
            taken.append((s, e))
            for rule in rules if isinstance(rules, list) else [rules]:
                strength_here = 1 if handler in (_zh_period_plan, _zh_period_report) else strength
                rule = dict(rule)
                name = rule.pop("_name", "")
                found.append(
                    Timing(rule, s, e, m.group(0), list(notes), strength_here, name, priority)
                )
    found.sort(key=lambda t: t.start)
    if _POSTPONE.search(text):  # "遇节假日顺延": a day off moves the deadline later
        for t in found:
            if t.kind in ("weekly", "monthly", "quarterly", "yearly") or (
                t.kind == "activity" and t.due.get("unit") != "working"
            ):
                t.due["adjust"] = "next_workday"
    _merge_weak_days(found)
    found = _drop_vaguer(found)
    for t in found:
        if t.kind not in ("sla", "activity") or t.due.get("unit") != "working":
            hhmm = clock_near(text, t.start, t.end)
            if hhmm and t.kind != "sla":
                t.due["time"] = hhmm
    return found


_POSTPONE = re.compile(r"顺延|推迟至下一个?工作日|next working day|next business day", re.I)
_EVERY = re.compile(r"每|次月|下个?月|every|each|before|by|on the", re.I)


def _drop_vaguer(found: list[Timing]) -> list[Timing]:
    """A guessed rule gives way to a stated one of the same kind; duplicates go."""
    stated = {t.kind for t in found if not t.notes}
    best: dict[str, int] = {}
    for t in found:
        best[t.kind] = max(best.get(t.kind, 0), t.strength)
    out: list[Timing] = []
    periodic = [t for t in found if t.kind not in ("sla", "activity")]
    for t in periodic:
        same = [o for o in periodic if o.kind == t.kind and o is not t]
        if same and not _EVERY.match(t.text):
            # "每年12月31日前完成年终盘点": the stated cadence wins over a word like 年终
            if any(_EVERY.match(o.text) or o.priority < t.priority for o in same):
                found = [o for o in found if o is not t]
    for t in found:
        several_ok = t.kind in ("sla", "activity")  # "24小时内回复…，立即转交…": two duties
        if t.notes and not several_ok and (t.kind in stated or t.strength < best[t.kind]):
            continue
        if any(o.due == t.due for o in out):
            continue
        out.append(t)
    return out


def _merge_weak_days(found: list[Timing]) -> None:
    """ "weekly ... on Friday": the weekday completes the weekly rule next to it."""
    weak = [t for t in found if t.due.pop("_weak_day", False)]
    for t in weak:
        weekly = [
            o
            for o in found
            if o is not t
            and o.kind == "weekly"
            and o.due.get("weekday") == DEFAULT_WEEKDAY
            and o.notes
        ]
        if weekly:
            weekly[0].due["weekday"] = t.due["weekday"]
            weekly[0].notes = []
        found.remove(t)
