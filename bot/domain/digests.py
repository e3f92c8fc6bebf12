"""Digest arithmetic: when the weekly and monthly digests are due, which period each
covers, how a task counts (on time, late, missing, excused, pending) and the completion
rate. The I/O halves: ``bot.services.digests`` gathers a period's numbers,
``bot.jobs.digests`` sends them.

Completion rate = (on time + late) / (on time + late + missing): excused and not-yet-due
tasks do not count against anyone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.policy import WEEKDAYS
from bot.domain.workcalendar import WorkCalendar

# Schedules (settings DUTYBOT_WEEKLY_DIGEST / DUTYBOT_MONTHLY_DIGEST): "fri 17:00" / "10:00"
WEEKLY_DIGEST_RE = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)$")
MONTHLY_DIGEST_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MONTHLY_CATCH_UP_WORKDAYS = 2  # a bot that was down on the 1st still sends it this late

ON_TIME, LATE, MISSING, EXCUSED, PENDING = "on_time", "late", "missing", "excused", "pending"
COMPLETED = ("submitted", "approved", "done")  # task states in which the work was delivered
_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Tally:
    on_time: int = 0
    late: int = 0
    missing: int = 0
    excused: int = 0
    pending: int = 0  # due later in the period

    @property
    def done(self) -> int:
        return self.on_time + self.late

    @property
    def counted(self) -> int:
        return self.on_time + self.late + self.missing

    @property
    def total(self) -> int:
        return self.counted + self.excused + self.pending

    @property
    def rate(self) -> float | None:
        """Completion rate as a fraction (0.85 = 85 %), None when nothing was due yet."""
        return self.done / self.counted if self.counted else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.on_time + other.on_time,
            self.late + other.late,
            self.missing + other.missing,
            self.excused + other.excused,
            self.pending + other.pending,
        )


def tally(outcomes: list[str]) -> Tally:
    return Tally(
        on_time=outcomes.count(ON_TIME),
        late=outcomes.count(LATE),
        missing=outcomes.count(MISSING),
        excused=outcomes.count(EXCUSED),
        pending=outcomes.count(PENDING),
    )


def outcome(due_at: datetime, delivered_at: datetime | None, excused: bool, now: datetime) -> str:
    """How one task counts. ``delivered_at``: when the work was delivered (None: not yet);
    ``excused``: its assignee was on leave on the due date."""
    if delivered_at is not None:
        return ON_TIME if delivered_at <= due_at else LATE
    if excused:
        return EXCUSED
    return MISSING if due_at <= now else PENDING


# -- periods and when they are due ---------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: str  # weekly | monthly
    key: str  # "2026-W49" | "2026-11"
    start: date
    end: date  # inclusive
    label: str


def week_period(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    iso = monday.isocalendar()
    sunday = monday + timedelta(days=6)
    label = f"{iso.year}年第{iso.week}周（{monday:%m-%d} – {sunday:%m-%d}）"
    return Period("weekly", f"{iso.year}-W{iso.week:02d}", monday, sunday, label)


def month_period(day: date) -> Period:
    first = day.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return Period(
        "monthly",
        f"{first:%Y-%m}",
        first,
        nxt - timedelta(days=1),
        f"{first.year}年{first.month}月",
    )


def period_label(period: Period, lang: str) -> str:
    if lang != "en":
        return period.label
    if period.kind == "weekly":
        return f"week {period.key[-2:].lstrip('0')} of {period.key[:4]} ({period.start:%m-%d} – {period.end:%m-%d})"
    return f"{period.start:%B %Y}"


def previous_period(period: Period) -> Period:
    day = period.start - timedelta(days=1)
    return week_period(day) if period.kind == "weekly" else month_period(day)


TREND_PERIODS = {"weekly": 8, "monthly": 6}  # how many periods the completion chart shows


def trend_label(period: Period) -> str:
    """Language-neutral axis labels: the Monday ("11-30") or the month ("2026-11")."""
    return f"{period.start:%m-%d}" if period.kind == "weekly" else period.key


def monday_of(period_key: str | None) -> date | None:
    """The Monday of a weekly task's period key ("2026-W49"), or None for another key."""
    m = _WEEK_KEY.match(period_key or "")
    return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1) if m else None


def parse_weekly(spec: str) -> tuple[int, time] | None:
    m = WEEKLY_DIGEST_RE.match(spec or "")
    if not m:
        return None
    return WEEKDAYS.index(m.group(1)), time(int(m.group(2)), int(m.group(3)))


def parse_monthly(spec: str) -> time | None:
    m = MONTHLY_DIGEST_RE.match(spec or "")
    return time(int(m.group(1)), int(m.group(2))) if m else None


def weekly_send_at(spec: str, calendar: WorkCalendar, day: date, tz: tzinfo) -> datetime | None:
    """When this week's digest is due (aware): the set weekday, or the working day before
    it in the same week; None when off, or when the week has no working day."""
    parsed = parse_weekly(spec)
    if parsed is None:
        return None
    weekday, at = parsed
    monday = day - timedelta(days=day.weekday())
    send_day = monday + timedelta(days=weekday)
    while send_day >= monday and not calendar.is_workday(send_day):
        send_day -= timedelta(days=1)
    if send_day < monday:
        return None
    return datetime.combine(send_day, at, tzinfo=tz)


def monthly_send_at(spec: str, calendar: WorkCalendar, day: date, tz: tzinfo) -> datetime | None:
    """The first working day of the month at the set time (aware), or None when off."""
    at = parse_monthly(spec)
    if at is None:
        return None
    first = calendar.next_workday(day.replace(day=1))
    return datetime.combine(first, at, tzinfo=tz)


def due_periods(
    weekly_spec: str, monthly_spec: str, calendar: WorkCalendar, local_now: datetime
) -> list[Period]:
    """The digests whose moment has come: this week's, and last month's (for a few working
    days after the first working day, so that a bot that was down still sends it)."""
    tz = local_now.tzinfo
    assert tz is not None
    today = local_now.date()
    out = []
    weekly = weekly_send_at(weekly_spec, calendar, today, tz)
    if weekly is not None and local_now >= weekly:
        out.append(week_period(today))
    monthly = monthly_send_at(monthly_spec, calendar, today, tz)
    if (
        monthly is not None
        and local_now >= monthly
        and today <= calendar.add_workdays(monthly.date(), MONTHLY_CATCH_UP_WORKDAYS)
    ):
        out.append(month_period(today.replace(day=1) - timedelta(days=1)))
    return out


def weekly_draft(rate: float | None, risks: list[str], max_lines: int = 30) -> dict:
    """The weekly progress report's pre-filled fields from the week's numbers."""
    draft: dict = {}
    if rate is not None:
        draft["completion_rate"] = round(rate, 4)
    lines = risks[:max_lines]
    draft["risks"] = "\n".join(f"- {line}" for line in lines) if lines else "无逾期事项"
    return draft
