"""Tasks started in chat (a logged user question or complaint): who can own them, storing
them once per (duty, message), and reading back the message a button refers to."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent, Leave, Member, Task, TaskStatus
from storage.queue import insert_ignore


async def role_holders(
    session: AsyncSession, role_key: str, today: date, department: str | None = None
) -> list[tuple[str, str, int, bool]]:
    """(open_id, name, open task count, on leave today) of the active members of a role
    (in `department`: role keys are unique within one; None: anywhere)."""
    open_count = (
        select(func.count())
        .where(
            Task.assignee_open_id == Member.open_id,
            col(Task.status).in_(TaskStatus.OPEN_STATES),
        )
        .scalar_subquery()
    )
    away = (
        select(func.count())
        .where(Leave.open_id == Member.open_id, Leave.start_date <= today, Leave.end_date >= today)
        .scalar_subquery()
    )
    stmt = (
        select(Member.open_id, Member.name, open_count, away)
        .where(Member.active, Member.role_key == role_key)
        .order_by(Member.open_id)
    )
    if department is not None:
        stmt = stmt.where(Member.department == department)
    rows = (await session.exec(stmt)).all()
    return [(r[0], r[1], int(r[2] or 0), bool(r[3])) for r in rows]


async def tasks_for_message(session: AsyncSession, period_key: str) -> list[Task]:
    """The tasks already started by one logged message (any duty, any assignee)."""
    stmt = select(Task).where(Task.period_key == period_key).order_by(Task.id)
    return list((await session.exec(stmt)).all())


async def insert_sla_tasks(session: AsyncSession, rows: list[dict]) -> list[Task]:
    """Insert the tasks (unique per duty, assignee, message) and return those that exist
    for the message afterwards."""
    await insert_ignore(session, Task, rows, ["duty_key", "assignee_open_id", "period_key"])
    if not rows:
        return []
    return await tasks_for_message(session, rows[0]["period_key"])


async def stored_message(session: AsyncSession, message_id: str) -> InboundEvent | None:
    """The inbound row of a chat message we received (kept for the de-duplication window)."""
    stmt = select(InboundEvent).where(InboundEvent.dedupe_key == f"msg:{message_id}")
    return (await session.exec(stmt)).first()
