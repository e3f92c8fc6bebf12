"""Weekly and monthly digests for the team chats, and the manager's weekly-progress draft
(built from the same numbers).

When: the weekly digest at `DUTYBOT_WEEKLY_DIGEST` (default Friday 17:00 local; on a day off
it moves to the previous working day of that week, and a week with no working day has no
digest); the monthly digest at `DUTYBOT_MONTHLY_DIGEST` (default 10:00) on the first working
day of a month, about the previous month. A tick at or after that moment (in the same week;
within two working days for the monthly one) sends it, once per (chat, period): a `digest:<kind>:<period>:<chat>` marker
is written with the outbox row. An empty digest is not sent."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import MONTHLY_DIGEST_RE, WEEKLY_DIGEST_RE, Settings
from bot.dispatch.context import Services
from bot.domain.policy import WEEKDAYS
from bot.domain.roster import Roster
from bot.domain.workcalendar import WorkCalendar
from cards.digest import (
    DigestView,
    ItemLine,
    KpiMiss,
    Row,
    SupportItem,
    Tally,
    TrendPoint,
    build_digest_card,
    percent,
)
from storage import digests as store
from storage.members import list_team_chats
from storage.models import Report, Task, TaskStatus
from storage.outbox import enqueue
from storage.reminders import claim_marker, existing_markers

log = logging.getLogger("dutybot.digests")

LANG = "zh"
UPCOMING = timedelta(days=14)
SUPPORT_SINCE = timedelta(days=14)
SUPPORT_FIELD = "support_needed"
MAX_LINES = 15
MONTHLY_CATCH_UP_WORKDAYS = 2  # a bot that was down on the 1st still sends it this late
COMPLETED = (TaskStatus.SUBMITTED, TaskStatus.APPROVED, TaskStatus.DONE)
ON_TIME, LATE, MISSING, EXCUSED, PENDING = "on_time", "late", "missing", "excused", "pending"


# -- when ------------------------------------------------------------------------------


def parse_weekly(spec: str) -> tuple[int, time] | None:
    m = WEEKLY_DIGEST_RE.match(spec or "")
    if not m:
        return None
    return WEEKDAYS.index(m.group(1)), time(int(m.group(2)), int(m.group(3)))


def parse_monthly(spec: str) -> time | None:
    m = MONTHLY_DIGEST_RE.match(spec or "")
    return time(int(m.group(1)), int(m.group(2))) if m else None


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


TREND_PERIODS = {"weekly": 8, "monthly": 6}


def trend_label(period: Period) -> str:
    """Language-neutral axis labels: the Monday ("11-30") or the month ("2026-11")."""
    return f"{period.start:%m-%d}" if period.kind == "weekly" else period.key


def weekly_send_at(settings: Settings, calendar: WorkCalendar, day: date, tz) -> datetime | None:
    """When this week's digest is due (aware), or None (off, or no working day)."""
    spec = parse_weekly(settings.weekly_digest)
    if spec is None:
        return None
    weekday, at = spec
    monday = day - timedelta(days=day.weekday())
    send_day = monday + timedelta(days=weekday)
    while send_day >= monday and not calendar.is_workday(send_day):
        send_day -= timedelta(days=1)
    if send_day < monday:
        return None
    return datetime.combine(send_day, at, tzinfo=tz)


def monthly_send_at(settings: Settings, calendar: WorkCalendar, day: date, tz) -> datetime | None:
    at = parse_monthly(settings.monthly_digest)
    if at is None:
        return None
    first = calendar.next_workday(day.replace(day=1))
    return datetime.combine(first, at, tzinfo=tz)


def due_periods(settings: Settings, calendar: WorkCalendar, local_now: datetime) -> list[Period]:
    """The digests whose moment has come in the current week / month."""
    tz = local_now.tzinfo
    today = local_now.date()
    out = []
    weekly = weekly_send_at(settings, calendar, today, tz)
    if weekly is not None and local_now >= weekly:
        out.append(week_period(today))
    monthly = monthly_send_at(settings, calendar, today, tz)
    if (
        monthly is not None
        and local_now >= monthly
        and today <= calendar.add_workdays(monthly.date(), MONTHLY_CATCH_UP_WORKDAYS)
    ):
        out.append(month_period(today.replace(day=1) - timedelta(days=1)))
    return out


# -- what ------------------------------------------------------------------------------


def completed_at(task: Task, report: Report | None) -> datetime | None:
    """When the work was delivered: a report's (latest) submission, else done_at."""
    if task.status not in COMPLETED:
        return None
    if report is not None:
        return report.submitted_at
    return task.done_at or task.updated_at


def outcome(task: Task, report: Report | None, roster: Roster, now: datetime, tz) -> str:
    delivered = completed_at(task, report)
    if delivered is not None:
        return ON_TIME if delivered <= task.due_at else LATE
    if roster.on_leave(task.assignee_open_id, task.due_at.astimezone(tz).date()):
        return EXCUSED
    return MISSING if task.due_at <= now else PENDING


def _count(outcomes: list[str]) -> Tally:
    return Tally(
        on_time=outcomes.count(ON_TIME),
        late=outcomes.count(LATE),
        missing=outcomes.count(MISSING),
        excused=outcomes.count(EXCUSED),
        pending=outcomes.count(PENDING),
    )


@dataclass
class DigestData:
    view: DigestView
    risks: list[str] = field(default_factory=list)  # plain-text lines for the weekly draft


def _bounds(period: Period, tz) -> tuple[datetime, datetime]:
    lo = datetime.combine(period.start, time(0), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return lo, hi


async def build_digest(
    session: AsyncSession,
    services: Services,
    roster: Roster,
    now: datetime,
    period: Period,
    lang: str = LANG,
) -> DigestData:
    policy, calendar, tz = services.policy, services.calendar, services.tz
    local_now = now.astimezone(tz)
    today = local_now.date()
    lo, hi = _bounds(period, tz)

    def duty_name(key: str) -> str:
        duty = policy.duties.get(key)
        return duty.name(lang) if duty else key

    def role_name(key: str) -> str:
        role = policy.roles.get(key)
        return role.name(lang) if role else key

    tasks = await store.tasks_due_between(session, lo, hi)
    reports = await store.reports_for_tasks(
        session, [t.id for t in tasks if t.id is not None and t.status in COMPLETED]
    )
    by_person: dict[str, list[str]] = defaultdict(list)
    for task in tasks:
        by_person[task.assignee_open_id].append(
            outcome(task, reports.get(task.id), roster, now, tz)
        )
    people, by_role = [], defaultdict(list)
    for open_id, outs in by_person.items():
        member = roster.get(open_id)
        role_key = member.role_key if member else ""
        tally = _count(outs)
        people.append(Row(roster.name(open_id), tally, role_name(role_key) if role_key else ""))
        by_role[role_key].append(tally)
    order = {key: i for i, key in enumerate(policy.roles)}
    people.sort(key=lambda r: (r.tally.rate if r.tally.rate is not None else 2, r.name))
    roles = [
        Row(role_name(key) if key else "—", sum(tallies, Tally()), f"{len(tallies)}")
        for key, tallies in sorted(by_role.items(), key=lambda kv: order.get(kv[0], 99))
    ]
    total = sum((r.tally for r in people), Tally())

    overdue_rows, overdue_total = await store.overdue_tasks(session, now, MAX_LINES)
    overdue = []
    risks = []
    for task in overdue_rows:
        due_local = task.due_at.astimezone(tz)
        excused = roster.on_leave(task.assignee_open_id, due_local.date())
        late = max(0, calendar.workdays_between(due_local.date(), today))
        overdue.append(
            ItemLine(
                roster.name(task.assignee_open_id),
                duty_name(task.duty_key),
                due_local,
                excused,
                late,
            )
        )
        if not excused:
            risks.append(
                f"{roster.name(task.assignee_open_id)}：{duty_name(task.duty_key)}"
                f"（截止 {due_local:%m-%d}，逾期 {late} 个工作日）"
            )
    if overdue_total > len(overdue_rows):
        risks.append(f"……另有 {overdue_total - len(overdue_rows)} 项逾期")

    kpi_misses = []
    for report in await store.approved_between(session, lo, hi):
        for k in store.kpi_results(report):
            if k.get("ok") is False:
                miss = KpiMiss(
                    who=roster.name(report.author_open_id),
                    duty_name=duty_name(report.duty_key),
                    label=str(k.get("label_zh") or k.get("key") or ""),
                    display=str(k.get("display") or k.get("value") or "—"),
                    op=str(k.get("op") or ""),
                    threshold_display=str(k.get("threshold_display") or k.get("threshold") or ""),
                )
                kpi_misses.append(miss)
                risks.append(
                    f"{miss.who}：{miss.duty_name} {miss.label} {miss.display}"
                    f"（目标 {miss.op} {miss.threshold_display}）"
                )

    upcoming_rows, upcoming_total = await store.upcoming_tasks(
        session, now, now + UPCOMING, MAX_LINES
    )
    upcoming = [
        ItemLine(
            roster.name(t.assignee_open_id),
            duty_name(t.duty_key),
            t.due_at.astimezone(tz),
            roster.on_leave(t.assignee_open_id, t.due_at.astimezone(tz).date()),
        )
        for t in upcoming_rows
    ]

    support_duties = {
        d.key
        for d in policy.duties.values()
        if d.report is not None and any(f.key == SUPPORT_FIELD for f in d.report.fields)
    }
    support = []
    for report in await store.latest_reports(session, support_duties, now - SUPPORT_SINCE):
        text = str(store.report_values(report).get(SUPPORT_FIELD) or "").strip()
        if text:
            support.append(SupportItem(roster.name(report.author_open_id), text))

    trend = await _trend(session, roster, now, tz, period, total)
    view = DigestView(
        kind=period.kind,
        trend=trend,
        label=period_label(period, lang),
        now=local_now,
        total=total,
        people=tuple(people),
        roles=tuple(roles),
        overdue=tuple(overdue),
        overdue_total=overdue_total,
        kpi_misses=tuple(kpi_misses),
        upcoming=tuple(upcoming),
        upcoming_total=upcoming_total,
        support=tuple(support),
    )
    return DigestData(view, risks)


async def _trend(
    session: AsyncSession, roster: Roster, now: datetime, tz, period: Period, current: Tally
) -> tuple[TrendPoint, ...]:
    """The team's completion rate for the periods before `period` (one query), then this one."""
    periods = [period]
    for _ in range(TREND_PERIODS[period.kind] - 1):
        periods.insert(0, previous_period(periods[0]))
    lo, _ = _bounds(periods[0], tz)
    hi, _ = _bounds(period, tz)
    tasks = await store.tasks_due_between(session, lo, hi)
    reports = await store.reports_for_tasks(
        session, [t.id for t in tasks if t.id is not None and t.status in COMPLETED]
    )
    outcomes: dict[str, list[str]] = defaultdict(list)
    for task in tasks:
        day = task.due_at.astimezone(tz).date()
        key = next((p.key for p in periods if p.start <= day <= p.end), None)
        if key is not None:
            outcomes[key].append(outcome(task, reports.get(task.id), roster, now, tz))
    points = [TrendPoint(trend_label(p), _count(outcomes[p.key]).rate) for p in periods[:-1]]
    return (*points, TrendPoint(trend_label(period), current.rate))


# -- sending ---------------------------------------------------------------------------


@dataclass
class DigestStats:
    sent: int = 0
    empty: int = 0
    periods: list[str] = field(default_factory=list)


def marker(period: Period, chat_id: str) -> str:
    return f"digest:{period.kind}:{period.key}:{chat_id}"


async def send_digests(
    sessions: async_sessionmaker, services: Services, now: datetime
) -> DigestStats:
    stats = DigestStats()
    local_now = now.astimezone(services.tz)
    periods = due_periods(services.settings, services.calendar, local_now)
    if not periods:
        return stats
    async with sessions() as session:
        chats = await list_team_chats(session)
        keys = [marker(p, c.chat_id) for p in periods for c in chats]
        done = await existing_markers(session, keys)
    for period in periods:
        todo = [c for c in chats if marker(period, c.chat_id) not in done]
        if not todo:
            continue
        async with sessions() as session:
            roster = await Roster.load(session, services.policy)
            data = await build_digest(session, services, roster, now, period)
        body = None if data.view.is_empty else build_digest_card(data.view, LANG)
        for chat in todo:
            key = marker(period, chat.chat_id)
            async with sessions() as session:
                if not await claim_marker(session, key, now):
                    await session.rollback()
                    continue
                if body is not None:
                    await enqueue(
                        session,
                        uuid="dg" + hashlib.sha256(key.encode()).hexdigest()[:40],
                        now=now,
                        kind="send",
                        purpose="digest",
                        body=body,
                        receive_id_type="chat_id",
                        receive_id=chat.chat_id,
                    )
                await session.commit()
            if body is None:
                stats.empty += 1
                log.info(
                    "%s digest %s for %s: nothing to report", period.kind, period.key, chat.chat_id
                )
            else:
                stats.sent += 1
                stats.periods.append(f"{period.kind}:{period.key}")
    return stats


# -- the manager's weekly progress draft ---------------------------------------------------

_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")


async def weekly_progress_draft(
    session: AsyncSession, services: Services, now: datetime, task: Task
) -> dict:
    """Pre-filled fields for the weekly progress report: the completion rate (a fraction)
    and the risks (overdue work and KPI misses) of the task's week, from the digest data."""
    m = _WEEK_KEY.match(task.period_key or "")
    if m:
        day = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    else:
        day = now.astimezone(services.tz).date()
    roster = await Roster.load(session, services.policy)
    data = await build_digest(session, services, roster, now, week_period(day))
    draft: dict = {}
    rate = data.view.total.rate
    if rate is not None:
        draft["completion_rate"] = round(rate, 4)
    lines = data.risks[:30]
    draft["risks"] = "\n".join(f"- {line}" for line in lines) if lines else "无逾期事项"
    log.debug("weekly draft for task %s: %s", task.id, percent(rate))
    return draft
