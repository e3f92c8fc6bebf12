"""The queries behind `dutybot ledger export`: tasks by due date (the (status, due_at)
index serves the range), their reports, and everyone who ever was a member (departed
people keep their names in the record). Tasks and members are read as plain rows (the
columns the ledger shows), not ORM objects: an export covers thousands."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.digests import reports_for_tasks
from storage.models import Leave, Member, Report, Task

# What a ledger row needs of a task (bot.domain.ledger.build_rows, delivered_at).
LEDGER_TASK_COLUMNS = (
    Task.id,
    Task.duty_key,
    Task.assignee_open_id,
    Task.period_key,
    Task.department,
    Task.due_at,
    Task.status,
    Task.done_at,
    Task.updated_at,
)


async def ledger_tasks(
    session: AsyncSession,
    lo: datetime | None,
    hi: datetime | None,
    *,
    duty_keys: set[str] | None = None,
    assignee: str | None = None,
    department: str | None = None,
) -> list:
    """Tasks due in [lo, hi) (open ends allowed), oldest due first; of one department
    when given. Rows with the attributes of LEDGER_TASK_COLUMNS."""
    stmt = select(*LEDGER_TASK_COLUMNS)
    if lo is not None:
        stmt = stmt.where(Task.due_at >= lo)
    if hi is not None:
        stmt = stmt.where(Task.due_at < hi)
    if duty_keys is not None:
        stmt = stmt.where(col(Task.duty_key).in_(duty_keys))
    if assignee is not None:
        stmt = stmt.where(Task.assignee_open_id == assignee)
    if department is not None:
        stmt = stmt.where(Task.department == department)
    return list((await session.exec(stmt.order_by(Task.due_at, Task.id))).all())


async def ledger_reports(session: AsyncSession, tasks: list) -> dict[int, Report]:
    return await reports_for_tasks(session, [t.id for t in tasks if t.id is not None])


async def all_members(session: AsyncSession) -> list:
    """Everyone who ever was a member: rows of open_id, name, active, role_key."""
    stmt = select(Member.open_id, Member.name, Member.active, Member.role_key)
    return list((await session.exec(stmt)).all())


async def all_leave(session: AsyncSession) -> list[tuple[str, date, date]]:
    rows = (await session.exec(select(Leave))).all()
    return [(r.open_id, r.start_date, r.end_date) for r in rows]
