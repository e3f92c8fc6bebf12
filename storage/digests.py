"""The queries behind digests and the weekly-progress draft. All bounded by due date (the
(status, due_at) index) except reports, which are few."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Report, ReportStatus, Task, TaskStatus

NOT_CANCELLED = (
    TaskStatus.OPEN,
    TaskStatus.SUBMITTED,
    TaskStatus.REJECTED,
    TaskStatus.APPROVED,
    TaskStatus.DONE,
)
UNDELIVERED = (TaskStatus.OPEN, TaskStatus.REJECTED)


def _in(department: str | None) -> tuple:
    """The condition for one department's tasks (None: every department's)."""
    return () if department is None else (Task.department == department,)


async def tasks_due_between(
    session: AsyncSession, lo: datetime, hi: datetime, department: str | None = None
) -> list[Task]:
    """Every task (but cancelled ones) due in [lo, hi)."""
    stmt = (
        select(Task)
        .where(col(Task.status).in_(NOT_CANCELLED), Task.due_at >= lo, Task.due_at < hi)
        .where(*_in(department))
        .order_by(Task.due_at, Task.id)
    )
    return list((await session.exec(stmt)).all())


async def overdue_tasks(
    session: AsyncSession, now: datetime, limit: int, department: str | None = None
) -> tuple[list[Task], int]:
    """The oldest `limit` undelivered tasks past due, and how many there are in all."""
    where = (col(Task.status).in_(UNDELIVERED), Task.due_at < now, *_in(department))
    rows = (
        await session.exec(select(Task).where(*where).order_by(Task.due_at, Task.id).limit(limit))
    ).all()
    total = (await session.exec(select(func.count()).select_from(Task).where(*where))).one()
    return list(rows), int(total)


async def upcoming_tasks(
    session: AsyncSession, now: datetime, until: datetime, limit: int, department: str | None = None
) -> tuple[list[Task], int]:
    where = (
        col(Task.status).in_(TaskStatus.OPEN_STATES),
        Task.due_at > now,
        Task.due_at <= until,
        *_in(department),
    )
    rows = (
        await session.exec(select(Task).where(*where).order_by(Task.due_at, Task.id).limit(limit))
    ).all()
    total = (await session.exec(select(func.count()).select_from(Task).where(*where))).one()
    return list(rows), int(total)


async def reports_for_tasks(session: AsyncSession, task_ids: list[int]) -> dict[int, Report]:
    out: dict[int, Report] = {}
    for i in range(0, len(task_ids), 500):
        chunk = task_ids[i : i + 500]
        rows = (await session.exec(select(Report).where(col(Report.task_id).in_(chunk)))).all()
        out.update({r.task_id: r for r in rows})
    return out


async def approved_between(session: AsyncSession, lo: datetime, hi: datetime) -> list[Report]:
    """Reports approved in [lo, hi), oldest first."""
    stmt = (
        select(Report)
        .where(
            Report.status == ReportStatus.APPROVED,
            Report.decided_at >= lo,
            Report.decided_at < hi,
        )
        .order_by(Report.decided_at, Report.id)
    )
    return list((await session.exec(stmt)).all())


async def latest_reports(
    session: AsyncSession, duty_keys: set[str], since: datetime
) -> list[Report]:
    """The newest submitted-or-approved report per (duty, author) since `since`."""
    if not duty_keys:
        return []
    stmt = (
        select(Report)
        .where(
            col(Report.duty_key).in_(duty_keys),
            col(Report.status).in_((ReportStatus.SUBMITTED, ReportStatus.APPROVED)),
            Report.submitted_at >= since,
        )
        .order_by(col(Report.submitted_at).desc(), col(Report.id).desc())
    )
    seen: set[tuple[str, str]] = set()
    out = []
    for report in (await session.exec(stmt)).all():
        key = (report.duty_key, report.author_open_id)
        if key not in seen:
            seen.add(key)
            out.append(report)
    return out


def kpi_results(report: Report) -> list[dict]:
    """The report's KPI results (a list of dicts, see the reports contract); [] if unreadable."""
    try:
        data = json.loads(report.kpis or "[]")
    except ValueError:
        return []
    return [k for k in data if isinstance(k, dict)] if isinstance(data, list) else []


def report_values(report: Report) -> dict:
    try:
        data = json.loads(report.values or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
