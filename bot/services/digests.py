"""A period's digest numbers, read from the database: the team chat's digest
(``bot.jobs.digests`` sends it) and the manager's weekly-progress draft (the reports
form pre-fills it) come from the same numbers. The arithmetic is ``bot.domain.digests``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dispatch.context import Services
from bot.domain.digests import (
    COMPLETED,
    TREND_PERIODS,
    Period,
    Tally,
    monday_of,
    outcome,
    period_label,
    previous_period,
    tally,
    trend_label,
    week_period,
    weekly_draft,
)
from bot.domain.roster import Roster, shown_name
from cards.digest import DigestView, ItemLine, KpiMiss, Row, SupportItem, TrendPoint
from storage import digests as store
from storage.members import load_roster
from storage.models import Report, Task
from storage.people import people as members_past_and_present

LANG = "zh"  # the team chat's language
UPCOMING = timedelta(days=14)
SUPPORT_SINCE = timedelta(days=14)
SUPPORT_FIELD = "support_needed"
MAX_LINES = 15


def _outcome(task: Task, report: Report | None, roster: Roster, now: datetime, tz) -> str:
    delivered = None
    if task.status in COMPLETED:  # a report's (latest) submission, else when marked done
        delivered = report.submitted_at if report is not None else task.done_at or task.updated_at
    excused = roster.on_leave(task.assignee_open_id, task.due_at.astimezone(tz).date())
    return outcome(task.due_at, delivered, excused, now)


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

    dept = services.department  # None: the whole deployment (no departments)
    tasks = await store.tasks_due_between(session, lo, hi, dept)
    reports = await store.reports_for_tasks(
        session, [t.id for t in tasks if t.id is not None and t.status in COMPLETED]
    )
    by_person: dict[str, list[str]] = defaultdict(list)
    for task in tasks:
        by_person[task.assignee_open_id].append(
            _outcome(task, reports.get(task.id), roster, now, tz)
        )
    overdue_rows, overdue_total = await store.overdue_tasks(session, now, MAX_LINES, dept)
    approved = await store.approved_between(session, lo, hi)
    upcoming_rows, upcoming_total = await store.upcoming_tasks(
        session, now, now + UPCOMING, MAX_LINES, dept
    )
    support_duties = {
        d.key
        for d in policy.duties.values()
        if d.report is not None and any(f.key == SUPPORT_FIELD for f in d.report.fields)
    }
    latest = await store.latest_reports(session, support_duties, now - SUPPORT_SINCE)
    # People who left keep their rows, by name and marked, with the role they had.
    mentioned = {t.assignee_open_id for t in (*tasks, *overdue_rows, *upcoming_rows)}
    mentioned |= {r.author_open_id for r in (*approved, *latest)}
    former = await members_past_and_present(
        session, {i for i in mentioned if roster.get(i) is None}
    )

    def ours(report: Report) -> bool:  # another department's report is not in this digest
        author = roster.get(report.author_open_id) or former.get(report.author_open_id)
        return dept is None or (author is not None and author.department == dept)

    approved, latest = list(filter(ours, approved)), list(filter(ours, latest))

    def who(open_id: str) -> str:
        member = roster.get(open_id)
        if member is not None:
            return member.name
        gone = former.get(open_id)
        return shown_name(gone.name if gone else None, False, lang)

    def role_of(open_id: str, duty_key: str) -> str:
        member = roster.get(open_id) or former.get(open_id)
        if member is not None and member.role_key:
            return member.role_key
        duty = policy.duties.get(duty_key)
        return duty.role if duty else ""

    people, by_role = [], defaultdict(list)
    first_duty = {}
    for task in tasks:
        first_duty.setdefault(task.assignee_open_id, task.duty_key)
    for open_id, outs in by_person.items():
        role_key = role_of(open_id, first_duty.get(open_id, ""))
        counts = tally(outs)
        people.append(Row(who(open_id), counts, role_name(role_key) if role_key else "—"))
        by_role[role_key].append(counts)
    order = {key: i for i, key in enumerate(policy.roles)}
    people.sort(key=lambda r: (r.tally.rate if r.tally.rate is not None else 2, r.name))
    roles = [
        Row(role_name(key) if key else "—", sum(counted, Tally()), f"{len(counted)}")
        for key, counted in sorted(by_role.items(), key=lambda kv: order.get(kv[0], 99))
    ]
    total = sum((r.tally for r in people), Tally())

    overdue = []
    risks = []
    for task in overdue_rows:
        due_local = task.due_at.astimezone(tz)
        excused = roster.on_leave(task.assignee_open_id, due_local.date())
        late = max(0, calendar.workdays_between(due_local.date(), today))
        overdue.append(
            ItemLine(
                who(task.assignee_open_id),
                duty_name(task.duty_key),
                due_local,
                excused,
                late,
            )
        )
        if not excused:
            risks.append(
                f"{who(task.assignee_open_id)}：{duty_name(task.duty_key)}"
                f"（截止 {due_local:%m-%d}，逾期 {late} 个工作日）"
            )
    if overdue_total > len(overdue_rows):
        risks.append(f"……另有 {overdue_total - len(overdue_rows)} 项逾期")

    kpi_misses = []
    for report in approved:
        for k in store.kpi_results(report):
            if k.get("ok") is False:
                miss = KpiMiss(
                    who=who(report.author_open_id),
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

    upcoming = [
        ItemLine(
            who(t.assignee_open_id),
            duty_name(t.duty_key),
            t.due_at.astimezone(tz),
            roster.on_leave(t.assignee_open_id, t.due_at.astimezone(tz).date()),
        )
        for t in upcoming_rows
    ]

    support = []
    for report in latest:
        text = str(store.report_values(report).get(SUPPORT_FIELD) or "").strip()
        if text:
            support.append(SupportItem(who(report.author_open_id), text))

    trend = await _trend(session, roster, now, tz, period, total, dept)
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
    session: AsyncSession,
    roster: Roster,
    now: datetime,
    tz,
    period: Period,
    current: Tally,
    department: str | None = None,
) -> tuple[TrendPoint, ...]:
    """The team's completion rate for the periods before `period` (one query), then this one."""
    periods = [period]
    for _ in range(TREND_PERIODS[period.kind] - 1):
        periods.insert(0, previous_period(periods[0]))
    lo, _ = _bounds(periods[0], tz)
    hi, _ = _bounds(period, tz)
    tasks = await store.tasks_due_between(session, lo, hi, department)
    reports = await store.reports_for_tasks(
        session, [t.id for t in tasks if t.id is not None and t.status in COMPLETED]
    )
    outcomes: dict[str, list[str]] = defaultdict(list)
    for task in tasks:
        day = task.due_at.astimezone(tz).date()
        key = next((p.key for p in periods if p.start <= day <= p.end), None)
        if key is not None:
            outcomes[key].append(_outcome(task, reports.get(task.id), roster, now, tz))
    points = [TrendPoint(trend_label(p), tally(outcomes[p.key]).rate) for p in periods[:-1]]
    return (*points, TrendPoint(trend_label(period), current.rate))


async def weekly_progress_draft(
    session: AsyncSession, services: Services, now: datetime, task: Task
) -> dict:
    """Pre-filled fields for the weekly progress report: the completion rate (a fraction)
    and the risks (overdue work and KPI misses) of the task's week, from the digest data."""
    day = monday_of(task.period_key) or now.astimezone(services.tz).date()
    services = services.view_of(task.department)
    roster = await load_roster(session, services.policy, services.department)
    data = await build_digest(session, services, roster, now, week_period(day))
    return weekly_draft(data.view.total.rate, data.risks)
