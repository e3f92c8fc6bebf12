"""Live numbers a policy change would touch: open tasks per duty, active members per role."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Member, Task, TaskStatus


async def open_tasks_by_duty(
    session: AsyncSession, department: str | None = None
) -> dict[str, int]:
    """Open (open, submitted, rejected) tasks per duty key (of one department; None: all)."""
    stmt = (
        select(Task.duty_key, func.count())
        .where(col(Task.status).in_(TaskStatus.OPEN_STATES))
        .group_by(Task.duty_key)
    )
    if department is not None:
        stmt = stmt.where(Task.department == department)
    return {key: n for key, n in (await session.exec(stmt)).all()}


async def active_members_by_role(
    session: AsyncSession, department: str | None = None
) -> dict[str, int]:
    stmt = select(Member.role_key, func.count()).where(Member.active).group_by(Member.role_key)
    if department is not None:
        stmt = stmt.where(Member.department == department)
    return {key: n for key, n in (await session.exec(stmt)).all()}
