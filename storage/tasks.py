"""Tasks: generating the periodic ones from the policy, and the queries handlers need."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.departments import DEFAULT_DEPARTMENT, Policies
from bot.domain.policy import Policy
from bot.domain.reminders import first_action_at
from bot.domain.schedule import upcoming_occurrences
from bot.domain.workcalendar import WorkCalendar
from storage import driver_reads
from storage.models import Marker, Member, Task, TaskStatus
from storage.queue import insert_ignore

CHUNK = 500


async def ensure_periodic_tasks(
    session: AsyncSession,
    policy: Policy,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
    open_ids: list[str] | None = None,
    department: str | None = None,
) -> int:
    """Create the current and next period's task of every periodic duty for every active
    member (or just `open_ids`) of `department` (None: everyone, with one policy); unique
    per (duty, assignee, period), so re-running adds nothing. Returns how many tasks were
    created. Does not commit.

    For the whole team, a `Marker` keyed by everything the rows derive from (who has which
    role, each duty's periods and due times) records that they exist: the tick that runs
    every minute then costs one read of the team instead of tens of thousands of inserts."""
    stmt = (
        select(Member.open_id, Member.role_key).where(Member.active).order_by(Member.open_id)
    )  # one lock order
    if open_ids is not None:
        stmt = stmt.where(col(Member.open_id).in_(open_ids))
    if department is not None:
        stmt = stmt.where(Member.department == department)
    members = (await session.exec(stmt)).all()
    if not members:
        return 0  # e.g. a department nobody is in (yet)
    occurrences = {
        duty.key: upcoming_occurrences(duty.due, now, tz, calendar)
        for duty in policy.periodic_duties()
    }
    marker = None
    if open_ids is None:
        marker = _periodic_marker(policy, members, occurrences, department)
        if await session.get(Marker, marker) is not None:
            return 0
    first_action: dict[datetime, datetime | None] = {}
    for occs in occurrences.values():
        for occ in occs:
            if occ.due_at not in first_action:
                first_action[occ.due_at] = first_action_at(policy, calendar, tz, occ.due_at)
    rows = []
    for member in members:
        for duty in policy.duties_for_role(member.role_key):
            for occ in occurrences.get(duty.key, ()):
                rows.append(
                    {
                        "duty_key": duty.key,
                        "assignee_open_id": member.open_id,
                        "period_key": occ.period_key,
                        "due_at": occ.due_at,
                        "status": TaskStatus.OPEN,
                        "created_at": now,
                        "updated_at": now,
                        "next_action_at": first_action[occ.due_at],
                        "department": department or DEFAULT_DEPARTMENT,
                    }
                )
    created = 0
    for i in range(0, len(rows), CHUNK):
        created += await insert_ignore(
            session, Task, rows[i : i + CHUNK], ["duty_key", "assignee_open_id", "period_key"]
        )
    if marker is not None:
        await insert_ignore(session, Marker, {"key": marker, "created_at": now}, "key")
    return created


async def ensure_all_periodic_tasks(
    session: AsyncSession,
    policies: Policies,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
) -> int:
    """`ensure_periodic_tasks` for every department, each with its own policy."""
    if policies.is_single:
        return await ensure_periodic_tasks(session, policies.default, calendar, tz, now)
    created = 0
    for dept in policies:
        created += await ensure_periodic_tasks(
            session, dept.policy, calendar, tz, now, department=dept.key
        )
    return created


def _periodic_marker(policy: Policy, members, occurrences, department: str | None) -> str:
    parts = [f"{m.open_id}:{m.role_key}" for m in members]
    if department is not None:
        parts.append(f"department={department}")
    for duty in policy.periodic_duties():
        occs = ",".join(f"{o.period_key}@{o.due_at.isoformat()}" for o in occurrences[duty.key])
        parts.append(f"{duty.key}/{duty.role}={occs}")
    return "periodic:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


_TASK_COLUMNS = list(Task.__table__.columns)  # the primary key first
_OPEN_TASKS_SQL = (
    f"SELECT {', '.join(c.name for c in _TASK_COLUMNS)} FROM tasks WHERE assignee_open_id = ? "
    f"AND status IN ({', '.join('?' * len(TaskStatus.OPEN_STATES))}) ORDER BY due_at, id"
)


async def list_open_tasks(session: AsyncSession, open_id: str) -> list[Task]:
    """A member's open tasks (open, submitted, rejected), soonest due first: the objects
    `session.exec(select(Task).where(…))` gives (pending changes flushed first, as it
    would), read in one driver call (storage.driver_reads: "what's due" is asked all
    day)."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        await session.flush()
    rows = await driver_reads.fetch(
        session,
        _OPEN_TASKS_SQL,
        [(None, open_id), *((None, s) for s in TaskStatus.OPEN_STATES)],
        _TASK_COLUMNS,
        lambda: (
            select(*_TASK_COLUMNS)
            .where(Task.assignee_open_id == open_id, col(Task.status).in_(TaskStatus.OPEN_STATES))
            .order_by(Task.due_at, Task.id)
        ),
    )
    return driver_reads.as_loaded(session, Task, rows, [c.key for c in _TASK_COLUMNS])


# What a listing of open tasks shows (`dutybot tasks list`): read as plain rows, not ORM
# objects, since a team has thousands (8,600 at 2,000 people: ~0.5 s less CPU).
OPEN_LIST_COLUMNS = (
    Task.id,
    Task.duty_key,
    Task.assignee_open_id,
    Task.activity_id,
    Task.period_key,
    Task.due_at,
    Task.status,
    Task.department,
)


async def list_open(
    session: AsyncSession,
    assignee: str | None = None,
    limit: int | None = None,
    department: str | None = None,
) -> list:
    """Open tasks (open, submitted, rejected) of everyone or one assignee (or one
    department), soonest first: rows with the attributes of OPEN_LIST_COLUMNS."""
    stmt = select(*OPEN_LIST_COLUMNS).where(col(Task.status).in_(TaskStatus.OPEN_STATES))
    if assignee:
        stmt = stmt.where(Task.assignee_open_id == assignee)
    if department:
        stmt = stmt.where(Task.department == department)
    stmt = stmt.order_by(Task.due_at, Task.id)
    if limit:
        stmt = stmt.limit(limit)
    return list((await session.exec(stmt)).all())


async def get_task(session: AsyncSession, task_id: int) -> Task | None:
    return await driver_reads.get(session, Task, task_id)


async def mark_done(session: AsyncSession, task: Task, now: datetime) -> bool:
    """Open (or rejected) -> done, as one conditional UPDATE; False if it was not open."""
    result = await session.exec(
        update(Task)
        .where(Task.id == task.id, col(Task.status).in_((TaskStatus.OPEN, TaskStatus.REJECTED)))
        .values(status=TaskStatus.DONE, done_at=now, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    task.status, task.done_at, task.updated_at = TaskStatus.DONE, now, now
    return True


async def cancel_open_duties(
    session: AsyncSession, open_id: str, duty_keys: list[str], now: datetime
) -> int:
    """Cancel a member's open tasks of these duties (a role change); finished work stays."""
    if not duty_keys:
        return 0
    result = await session.exec(
        update(Task)
        .where(
            Task.assignee_open_id == open_id,
            col(Task.duty_key).in_(duty_keys),
            col(Task.status).in_(TaskStatus.OPEN_STATES),
        )
        .values(status=TaskStatus.CANCELLED, updated_at=now)
    )
    return result.rowcount or 0
