"""Chinese time expressions (and a few English words that share their rules)."""

from __future__ import annotations

import re

from bot.domain.policy_draft.cadence.base import (
    _PLAN,
    _REPORT,
    _WD,
    _ZH_EVENT,
    _ZH_WD,
    DEFAULT_WEEKDAY,
    MAX_WORKDAY,
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


_WITHIN = r"(?:内|之内|以内)?"
_DAYS = r"\s*(?:个)?(工作日|天|日|自然日)"


@_rule(
    rf"(?:每个?月|月度|当月|每月度)(?:结束|结账|结算|终了)后(\d{{1,2}}){_DAYS}{_WITHIN}|月结后(\d{{1,2}}){_DAYS}{_WITHIN}"
)
def _zh_after_month(m):
    n, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return _after_period("monthly", int(n), unit == "工作日")


@_rule(rf"(?:每个?季度?|季度)(?:结束|终了)?后(\d{{1,2}}){_DAYS}{_WITHIN}")
def _zh_after_quarter(m):
    return _after_period("quarterly", int(m.group(1)), m.group(2) == "工作日")


@_rule(r"(每个?季度?|季度|每年|每个?年度|年度)(?:结束|终了)后([1-3])\s*个月(?:内|之内|以内)")
def _zh_months_after(m):
    kind = "quarterly" if "季" in m.group(1) else "yearly"
    return {"kind": kind, "month": int(m.group(2)), "day": -1, "covers": "previous"}, []


@_rule(rf"(?:每年|每个?年度|年度|每一年度)(?:结束|终了)后(\d{{1,2}}){_DAYS}{_WITHIN}")
def _zh_after_year(m):
    n, working = int(m.group(1)), m.group(2) == "工作日"
    if working or n > 31:
        return _after_period("yearly", n, working)
    notes: list[str] = []  # "30日内" is 30 January, not "the month's last day"
    return {
        "kind": "yearly",
        "month": 1,
        **_date_rule(1, n, False, notes),
        "covers": "previous",
    }, notes


@_rule(
    r"(每个?月|当月|本月)(?:的)?(\d{1,2})\s*(?:日|号)?((?:\s*[、和及与,]\s*\d{1,2}\s*(?:日|号)?)+)"
    r"\s*(之前|以前|前)?"
)
def _zh_month_days(m):
    """ "每月10日、25日前提交考勤": one duty per day."""
    notes: list[str] = []
    days = [int(m.group(2))] + [int(d) for d in re.findall(r"\d{1,2}", m.group(3))]
    rules = [{"kind": "monthly", **_day_rule(d, bool(m.group(4)), notes)} for d in days]
    return rules, notes + [f"'{m.group(0)}': one duty per day of the month"]


@_rule(
    r"(每个?月|次月|下个?月|每月度|当月|本月)(?:的)?(?:第)?(\d{1,2})\s*(?:日|号)\s*(之前|以前|前)?"
)
def _zh_month_day(m):
    notes: list[str] = []
    rule = {"kind": "monthly", **_day_rule(int(m.group(2)), bool(m.group(3)), notes)}
    if m.group(1) in ("次月", "下月", "下个月"):
        rule["covers"] = "previous"
    return rule, notes


@_rule(
    r"每个?月(?:的)?月?(?:最后[一1]个工作日|最后[一1]天|底|末)|(?<![年\d])月底|(?<![年\d])月末|月度终了"
)
def _zh_month_end(m):
    return {"kind": "monthly", "day": -1}, []


@_rule(r"(每个?月|次月|下个?月)(?:的)?(月初|初)?(第|前)?(\d{1,2})个工作日(?:内|之内|以内)?")
def _zh_month_nth_workday(m):
    if not (m.group(2) or m.group(3)):
        return None  # "每月5个工作日" alone says how long, not when
    found = _nth_workday(int(m.group(4)))
    if found and m.group(1) in ("次月", "下月", "下个月"):
        found[0]["covers"] = "previous"
    return found


@_rule(
    r"\b(?:by|before|on|within|no later than)\s+the\s+(?:first|(\d{1,2})(?:st|nd|rd|th))\s+(?:working|business)\s+days?\s+of\s+(?:each|every|the)(\s+(?:following|next))?\s+month\b",
    flags=re.I,
)
def _en_month_nth_workday(m):
    found = _nth_workday(int(m.group(1) or 1))
    if found and m.group(2):
        found[0]["covers"] = "previous"
    return found


def _nth_workday(n: int):
    if not 1 <= n <= MAX_WORKDAY:
        return None
    return {"kind": "monthly", "workday": n}, []


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
    r"每\s*[两2]\s*个?月|隔月|双月|每隔[一1]个?月|bi-?monthly|every (?:other|two|2) months",
    flags=re.I,
)
def _two_monthly(m):
    return {"kind": "monthly", "day": -1}, [
        f"'{m.group(0)}': drafted as monthly (the format has no every-two-months rule)"
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


_QUARTER_MONTH = {"首月": 1, "第一个月": 1, "第1个月": 1, "第二个月": 2, "第2个月": 2,
                  "末月": 3, "最后一个月": 3, "最后1个月": 3, "第三个月": 3, "第3个月": 3}  # fmt: skip


@_rule(
    r"每个?季度?(?:的)?(首月|第[一二三1-3]个月|末月|最后[一1]个月)(?:的)?(\d{1,2})\s*(?:日|号)\s*(之前|以前|前)?"
)
def _zh_quarter_first_month(m):
    notes: list[str] = []
    month = _QUARTER_MONTH.get(m.group(1).replace("一", "1").replace("二", "2").replace("三", "3"))
    month = month or _QUARTER_MONTH.get(m.group(1), 1)
    return {
        "kind": "quarterly",
        "month": month,
        **_day_rule(int(m.group(2)), bool(m.group(3)), notes),
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


@_rule(
    r"(每年|次年|翌年|下一?年)(?:的)?(\d{1,2})\s*月(?:份)?(?:的)?(\d{1,2})\s*(?:日|号)\s*(之前|以前|前)?"
)
def _zh_year_date(m):
    month = int(m.group(2))
    if not 1 <= month <= 12:
        return None
    notes: list[str] = []
    rule = {
        "kind": "yearly",
        "month": month,
        **_date_rule(month, int(m.group(3)), bool(m.group(4)), notes),
    }
    if m.group(1) != "每年":  # "次年1月15日前提交上年度总结": about the year before
        rule["covers"] = "previous"
    return rule, notes


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
    rf"((?:年度|全年|季度|月度))(?:\s*[/、和及与]\s*((?:年度|季度|月度)))?[\u4e00-\u9fff]{{0,6}}?{_PLAN}(?!达成|完成|执行率|[率额])",  # "目标达成率" is a metric
    strength=1,
)
def _zh_period_plan(m):
    return _adjective_rules(m, plan=True)


@_rule(
    rf"((?:年度|季度|月度))(?:\s*[/、和及与]\s*((?:年度|季度|月度)))?[\u4e00-\u9fff]{{0,6}}?{_REPORT}",
    strength=1,
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
    rf"({_ZH_EVENT})(?:开始|启动|开展|举办|召开|举行)?(?:后|之后)(\d{{1,3}})\s*(?:个)?(工作日|天|日|自然日)|({_ZH_EVENT})(?:结束|完成|结项|落地|闭幕|收尾|结案|验收|交付)(?:后|之后)?(\d{{1,3}})\s*(?:个)?(工作日|天|日|自然日|周|星期)"
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


@_rule(r"(\d+(?:\.\d+)?)\s*(?:个)?(工作)?(?:小时|钟头|h\b)\s*(?:内|之内|以内)")
def _zh_hours(m):
    rule = {"kind": "sla", "hours": _hours(float(m.group(1)))}
    if m.group(2):  # "4个工作小时内": only working hours count
        rule["unit"] = "working"
    return rule, []


@_rule(r"(\d+)\s*秒(?:钟)?\s*(?:内|之内|以内)|\bwithin\s+(\d+)\s+sec(?:ond)?s?\b", flags=re.I)
def _seconds(m):
    n = int(m.group(1) or m.group(2))
    return {"kind": "sla", "hours": _hours(1 / 60)}, [
        f"{n} seconds drafted as 1 minute: a clock this short is better a KPI of a report"
    ]


@_rule(r"(\d+)\s*分钟\s*(?:内|之内|以内)")
def _zh_minutes(m):
    return {"kind": "sla", "hours": _hours(int(m.group(1)) / 60)}, []


@_rule(r"(\d{1,2})\s*(?:个)?(工作日|自然日|天|日)\s*(?:内|之内|以内)")
def _zh_days_within(m):
    working = m.group(2) == "工作日"
    return _days_sla(int(m.group(1)), working, "working days" if working else "days")


# the verb stays outside the match (it names the duty); "当天解决率" is a metric
@_rule(
    r"(?:当天|当日)(?:内)?(?=(?:完成|回复|处理|反馈|提交|响应|回拨|回电|答复|解决|办结|跟进|处置)"
    r"(?![率量数]))"
)
def _zh_same_day(m):
    return {"kind": "sla", "hours": 24}, ["'当天' read as within 24 hours"]
