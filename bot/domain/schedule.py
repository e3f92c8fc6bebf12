"""Due rules -> concrete due datetimes. Pure functions; all returned datetimes are aware UTC.

Vocabulary
----------
*Period*: what a periodic task is about, named by its ``period_key``:

===========  =============  ==============================================
kind         period         period_key
===========  =============  ==============================================
weekly       ISO week       ``"2026-W48"`` (ISO year, so 2027-01-01 is ``"2026-W53"``)
monthly      month          ``"2026-11"``
quarterly    quarter        ``"2026-Q4"``
yearly       year           ``"2026"``
weekdays     one day        ``"2026-11-26"`` (only the listed weekdays)
===========  =============  ==============================================

*Due date* of a period (local date), before ``rule.adjust``:

* weekly: the rule's weekday in that ISO week;
* weekdays: the day itself;
* monthly / quarterly / yearly: ``covers`` says which period the task is about relative
  to the period it is *due in* ("previous": the report on November is due in December).
  ``day = N`` is day N of the due month (negative: counted from its end, -1 = last day),
  ``before_day = N`` is day N-1, ``workday = N`` the Nth working day counted from the
  1st (past the month's end if it has fewer); for quarterly/yearly the month is ``month``
  of the due quarter/year. ``before_start`` is the last day before the covered period starts.

Then ``adjust`` moves a due date that is not a working day: ``previous_workday`` /
``next_workday`` / ``none``; ``skip`` (weekdays only) drops the occurrence. Two guards keep
a report after the work it reports on: a report due after its covered period is never
moved back into that period (it rolls forward to the next working day instead, 顺延), and
a weekly due date never leaves its week (the week's last working day, or no task). The due
datetime is ``rule.time`` on that date in ``tz``, converted to UTC.
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.domain.policy import PERIODIC_KINDS, DueRule
from bot.domain.policy.wording import MONTH_EN as _MONTH_EN
from bot.domain.policy.wording import WEEKDAY_EN_SHORT as _WEEKDAY_EN
from bot.domain.policy.wording import WEEKDAY_ZH as _WEEKDAY_ZH
from bot.domain.workcalendar import WorkCalendar

__all__ = [
    "Occurrence",
    "activity_due",
    "activity_due_date",
    "occurrence_for",
    "sla_due",
    "upcoming_occurrences",
]

_COVERS_SHIFT = {"previous": 1, "current": 0, "next": -1}  # due period = covered + shift

# How many periods before the current one to look at: enough for covers = "previous"
# (due one period later) plus a due date moved forward by next_workday.
_LOOKBACK = {"weekly": 2, "monthly": 2, "quarterly": 2, "yearly": 2, "weekdays": 21}
_MAX_SCAN = 2000


@dataclass(frozen=True)
class Occurrence:
    """One concrete task of a periodic duty."""

    period_key: str  # "2026-W48", "2026-11", "2026-Q4", "2026", "2026-11-26"
    due_at: datetime  # aware, UTC
    due_date: date  # the local due date (after adjustment)
    period_start: date  # first day of the covered period
    period_end: date  # last day of the covered period (inclusive)
    label_zh: str  # "2026年第48周", "2026年11月", "2026年第4季度", "2026年", ...
    label_en: str  # "2026 week 48", "November 2026", "2026 Q4", "2026", ...

    def label(self, lang: str = "zh") -> str:
        return self.label_en if str(lang).lower().startswith("en") else self.label_zh


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _require_aware(name: str, dt: datetime) -> None:
    if not isinstance(dt, datetime) or dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {dt!r}")


def _at(d: date, rule: DueRule, tz: tzinfo) -> datetime:
    return datetime.combine(d, rule.time, tzinfo=tz).astimezone(UTC)


def _adjust(d: date, how: str, cal: WorkCalendar) -> date:
    if how == "previous_workday":
        return cal.previous_workday(d)
    if how == "next_workday":
        return cal.next_workday(d)
    return d


# -- period arithmetic: every periodic kind numbers its periods with an integer -----------


def _month_day(y: int, m: int, day: int) -> date:
    """Day ``day`` of a month; negative counts from the end (-1 = last day)."""
    if day < 0:
        last = _calendar.monthrange(y, m)[1]
        return date(y, m, last + day + 1)
    return date(y, m, day)


def _rule_day(y: int, m: int, rule: DueRule, cal: WorkCalendar) -> date:
    if rule.workday is not None:
        return cal.add_workdays(date(y, m, 1) - timedelta(days=1), rule.workday)
    if rule.before_day is not None:
        return date(y, m, rule.before_day) - timedelta(days=1)
    assert rule.day is not None
    return _month_day(y, m, rule.day)


def _period_index(kind: str, d: date) -> int:
    if kind == "weekly":
        return (d.toordinal() - 1) // 7  # date.fromordinal(1) is a Monday
    if kind == "monthly":
        return d.year * 12 + d.month - 1
    if kind == "quarterly":
        return d.year * 4 + (d.month - 1) // 3
    if kind == "yearly":
        return d.year
    return d.toordinal()  # weekdays


def _period_bounds(kind: str, idx: int) -> tuple[date, date]:
    if kind == "weekly":
        start = date.fromordinal(idx * 7 + 1)
        return start, start + timedelta(days=6)
    if kind == "monthly":
        y, m0 = divmod(idx, 12)
        return date(y, m0 + 1, 1), _month_day(y, m0 + 1, -1)
    if kind == "quarterly":
        y, q0 = divmod(idx, 4)
        return date(y, q0 * 3 + 1, 1), _month_day(y, q0 * 3 + 3, -1)
    if kind == "yearly":
        return date(idx, 1, 1), date(idx, 12, 31)
    d = date.fromordinal(idx)
    return d, d


def _period_key(kind: str, idx: int) -> str:
    start, _ = _period_bounds(kind, idx)
    if kind == "weekly":
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if kind == "monthly":
        return f"{start.year}-{start.month:02d}"
    if kind == "quarterly":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if kind == "yearly":
        return f"{start.year}"
    return start.isoformat()


def _labels(kind: str, idx: int) -> tuple[str, str]:
    start, _ = _period_bounds(kind, idx)
    if kind == "weekly":
        iso = start.isocalendar()
        return f"{iso.year}年第{iso.week}周", f"{iso.year} week {iso.week}"
    if kind == "monthly":
        return f"{start.year}年{start.month}月", f"{_MONTH_EN[start.month]} {start.year}"
    if kind == "quarterly":
        q = (start.month - 1) // 3 + 1
        return f"{start.year}年第{q}季度", f"{start.year} Q{q}"
    if kind == "yearly":
        return f"{start.year}年", f"{start.year}"
    wd = start.weekday()
    return (
        f"{start.year}年{start.month}月{start.day}日(周{_WEEKDAY_ZH[wd]})",
        f"{_WEEKDAY_EN[wd]} {start.day} {_MONTH_EN[start.month][:3]} {start.year}",
    )


def _raw_due_date(rule: DueRule, idx: int, cal: WorkCalendar) -> date | None:
    """The due date of period ``idx`` before adjustment, or None if no occurrence."""
    kind = rule.kind
    start, _ = _period_bounds(kind, idx)
    if kind == "weekly":
        assert rule.weekday is not None
        return start + timedelta(days=rule.weekday)
    if kind == "weekdays":
        return start if start.weekday() in rule.days else None
    if rule.before_start:
        return start - timedelta(days=1)
    due_idx = idx + _COVERS_SHIFT[rule.covers]
    if kind == "monthly":
        y, m0 = divmod(due_idx, 12)
        return _rule_day(y, m0 + 1, rule, cal)
    if kind == "quarterly":
        y, q0 = divmod(due_idx, 4)
        return _rule_day(y, q0 * 3 + (rule.month or 1), rule, cal)
    # yearly
    return _rule_day(due_idx, rule.month or 1, rule, cal)


def _days_back(last: date, first: date):
    d = last
    while d >= first:
        yield d
        d -= timedelta(days=1)


def _occurrence(rule: DueRule, idx: int, tz: tzinfo, cal: WorkCalendar) -> Occurrence | None:
    raw = _raw_due_date(rule, idx, cal)
    if raw is None:
        return None
    if rule.adjust == "skip" and not cal.is_workday(raw):
        return None
    due = _adjust(raw, rule.adjust, cal)
    start, end = _period_bounds(rule.kind, idx)
    if rule.kind == "weekly" and not start <= due <= end:
        # The week has no working day by its due weekday (National Day week): the report is
        # due on the week's last working day, or there is none if the week has none.
        due = next((d for d in _days_back(end, start) if cal.is_workday(d)), None)
        if due is None:
            return None
    elif raw > end >= due:
        # A report on a finished period ("before the 5th" of the next month) must not fall
        # due inside the period it covers when the 1st-4th are days off: 顺延 instead.
        due = cal.next_workday(raw)
    zh, en = _labels(rule.kind, idx)
    return Occurrence(
        period_key=_period_key(rule.kind, idx),
        due_at=_at(due, rule, tz),
        due_date=due,
        period_start=start,
        period_end=end,
        label_zh=zh,
        label_en=en,
    )


def upcoming_occurrences(
    rule: DueRule,
    now: datetime,
    tz: tzinfo | str,
    calendar: WorkCalendar,
    count: int = 2,
) -> list[Occurrence]:
    """The "current and next" occurrences of a periodic rule, in period order.

    Let the *current period* be the period of the rule's cadence (ISO week, month,
    quarter, year; the day for ``weekdays``) that contains ``now`` in ``tz``, and
    ``period_start`` its first day at 00:00 local. Walking the rule's occurrences in
    period order, the first one returned is the first occurrence ``o`` with either

    * ``o.due_at >= now`` (not yet due), or
    * ``o``'s period is the current period or later **and** ``o.due_at >= period_start``
      (the current period's task, due this period but a little overdue now);

    followed by the next ``count - 1`` occurrences. Due times never decrease with the
    period, so the result is exactly ``count`` consecutive occurrences.

    So on the first day nothing long overdue is generated: on Thu 2026-11-26 a weekly
    Friday rule gives 2026-W48 (due Fri 11-27 18:00 +08:00) and 2026-W49; on Sat 11-28 it
    still gives 2026-W48 (one day late, the current week) and 2026-W49. The monthly brand
    report (``before_day = 5``, ``covers = "previous"``) gives 2026-11 (due 2026-12-04)
    and 2026-12 (due 2027-01-04): the October report, due 11-04, is about a finished
    month and is skipped; on 12-02 the November report (due in two days) is still first.
    A plan due before its month starts (``before_start``) is skipped once that month has
    started.

    Deterministic: depends only on the arguments. ``now`` must be timezone-aware.
    """
    if not rule.is_periodic:
        raise ValueError(f"kind {rule.kind!r} is not periodic")
    _require_aware("now", now)
    if count < 1:
        return []
    zone = _zone(tz)
    local_now = now.astimezone(zone)
    kind = rule.kind
    current = _period_index(kind, local_now.date())
    current_start = datetime.combine(_period_bounds(kind, current)[0], datetime.min.time(), zone)

    out: list[Occurrence] = []
    idx = current - _LOOKBACK[kind]
    for _ in range(_MAX_SCAN):
        occ = _occurrence(rule, idx, zone, calendar)
        if occ is not None and (
            out or occ.due_at >= now or (idx >= current and occ.due_at >= current_start)
        ):
            out.append(occ)
            if len(out) >= count:
                break
        idx += 1
    return out


_KEY_PATTERNS = {
    "weekly": re.compile(r"^(\d{4})-W(\d{2})$"),
    "monthly": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarterly": re.compile(r"^(\d{4})-Q([1-4])$"),
    "yearly": re.compile(r"^(\d{4})$"),
    "weekdays": re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
}


def occurrence_for(
    rule: DueRule, period_key: str, tz: tzinfo | str, calendar: WorkCalendar
) -> Occurrence | None:
    """The occurrence of a given period key (e.g. to recompute a due date after the
    calendar changed). None if the rule has no occurrence for it (a weekday not in
    ``days``, or ``adjust = "skip"`` on a day off). ValueError for a malformed key."""
    if rule.kind not in PERIODIC_KINDS:
        raise ValueError(f"kind {rule.kind!r} is not periodic")
    m = _KEY_PATTERNS[rule.kind].match(period_key)
    if not m:
        raise ValueError(f"{period_key!r} is not a {rule.kind} period key")
    try:
        if rule.kind == "weekly":
            d = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        elif rule.kind == "monthly":
            d = date(int(m.group(1)), int(m.group(2)), 1)
        elif rule.kind == "quarterly":
            d = date(int(m.group(1)), (int(m.group(2)) - 1) * 3 + 1, 1)
        elif rule.kind == "yearly":
            d = date(int(m.group(1)), 1, 1)
        else:
            d = date.fromisoformat(period_key)
    except ValueError as e:
        raise ValueError(f"{period_key!r} is not a valid {rule.kind} period key") from e
    return _occurrence(rule, _period_index(rule.kind, d), _zone(tz), calendar)


def activity_due_date(rule: DueRule, start: date, end: date, calendar: WorkCalendar) -> date:
    """The local due date of an activity rule for an activity from ``start`` to ``end``.

    ``unit = "calendar"``: anchor + offset days, then ``rule.adjust`` (default: a "before"
    deadline on a day off moves to the previous working day, an "after" deadline to the
    next one). ``unit = "working"``: the ``offset``-th working day after (before) the
    anchor, not counting the anchor; offset 0 is the anchor if it is a working day, else
    the next working day.
    """
    if rule.kind != "activity":
        raise ValueError(f"kind {rule.kind!r} is not 'activity'")
    if end < start:
        raise ValueError(f"the activity ends ({end}) before it starts ({start})")
    anchor = start if rule.anchor == "start" else end
    offset = rule.offset or 0
    if rule.unit == "working":
        if offset == 0:
            return calendar.next_workday(anchor)
        return calendar.add_workdays(anchor, offset)
    return _adjust(anchor + timedelta(days=offset), rule.adjust, calendar)


def activity_due(
    rule: DueRule, start: date, end: date, tz: tzinfo | str, calendar: WorkCalendar
) -> datetime:
    """The due datetime (aware UTC) of an activity rule: ``rule.time`` on
    ``activity_due_date(...)`` in ``tz``."""
    return _at(activity_due_date(rule, start, end, calendar), rule, _zone(tz))


def sla_due(
    rule: DueRule,
    triggered_at: datetime,
    tz: tzinfo | str | None = None,
    calendar: WorkCalendar | None = None,
    working_hours: tuple[time, time] | None = None,
) -> datetime:
    """When an SLA task is due (aware UTC): ``triggered_at`` + ``rule.hours``.

    ``unit = "calendar"`` (the default) counts clock hours, nights and holidays included.
    ``unit = "working"`` counts only the hours within ``working_hours`` (local, in ``tz``)
    on the calendar's working days: a 4-hour SLA logged at 17:00 on a Friday with working
    hours 09:30-18:30 is due at 12:00 on Monday (1.5 h on Friday, 2.5 h on Monday).
    """
    if rule.kind != "sla":
        raise ValueError(f"kind {rule.kind!r} is not 'sla'")
    _require_aware("triggered_at", triggered_at)
    hours = timedelta(hours=rule.hours or 0)
    if rule.unit != "working":
        return (triggered_at + hours).astimezone(UTC)
    if tz is None or calendar is None or working_hours is None:
        raise ValueError("an SLA in working hours needs tz, calendar and working_hours")
    zone = _zone(tz)
    start, end = working_hours
    cursor = triggered_at.astimezone(zone)
    day = cursor.date()
    for _ in range(3 * 366):  # a year of holidays cannot hide every working day
        if calendar.is_workday(day):
            opens = datetime.combine(day, start, tzinfo=zone)
            closes = datetime.combine(day, end, tzinfo=zone)
            begin = max(cursor, opens)
            if begin < closes:
                if hours <= closes - begin:
                    return (begin + hours).astimezone(UTC)
                hours -= closes - begin
        day += timedelta(days=1)
        cursor = datetime.combine(day, time(0), tzinfo=zone)
    raise ValueError("no working hours found within three years")
