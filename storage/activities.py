"""Activities (市场活动 / 项目) and the tasks that hang off them. No policy logic here:
`bot/domain/activities.py` decides which tasks an activity needs; this module stores them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Activity, Task, TaskStatus
from storage.queue import insert_ignore


def period_key(activity_id: int) -> str:
    """The period key of an activity's tasks: unique per (duty, assignee, activity)."""
    return f"act:{activity_id}"


async def add_activity(session: AsyncSession, activity: Activity) -> Activity:
    session.add(activity)
    await session.flush()
    return activity


async def get_activity(session: AsyncSession, activity_id: int) -> Activity | None:
    return await session.get(Activity, activity_id)


async def list_activities(
    session: AsyncSession, *, include_cancelled: bool = False
) -> list[Activity]:
    stmt = select(Activity).order_by(Activity.start_date, Activity.id)
    if not include_cancelled:
        stmt = stmt.where(Activity.status != "cancelled")
    return list((await session.exec(stmt)).all())


async def activity_titles(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.exec(select(Activity).where(col(Activity.id).in_(ids)))).all()
    return {a.id: a.title for a in rows if a.id is not None}


async def insert_activity_tasks(session: AsyncSession, rows: list[dict]) -> list[Task]:
    """Insert the planned tasks (unique per duty, assignee, activity) and return the rows
    that exist for them afterwards, in the order given."""
    await insert_ignore(session, Task, rows, ["duty_key", "assignee_open_id", "period_key"])
    if not rows:
        return []
    periods = {r["period_key"] for r in rows}
    found = (await session.exec(select(Task).where(col(Task.period_key).in_(periods)))).all()
    by_key = {(t.duty_key, t.assignee_open_id, t.period_key): t for t in found}
    wanted = [(r["duty_key"], r["assignee_open_id"], r["period_key"]) for r in rows]
    return [by_key[k] for k in wanted if k in by_key]


async def activity_tasks(session: AsyncSession, activity_id: int) -> list[Task]:
    stmt = (
        select(Task)
        .where(Task.activity_id == activity_id)
        .order_by(Task.due_at, Task.duty_key, Task.assignee_open_id)
    )
    return list((await session.exec(stmt)).all())


async def set_task_due(
    session: AsyncSession, task_id: int, due_at: datetime, now: datetime
) -> None:
    await session.exec(
        update(Task)
        .where(Task.id == task_id, Task.status == TaskStatus.OPEN)
        .values(due_at=due_at, updated_at=now)
    )


async def cancel_open_tasks(session: AsyncSession, activity_id: int, now: datetime) -> int:
    """Cancel an activity's tasks nobody has delivered yet (open, or rejected and not yet
    redone). Submitted, approved and done work is kept as it is."""
    result = await session.exec(
        update(Task)
        .where(
            Task.activity_id == activity_id,
            col(Task.status).in_((TaskStatus.OPEN, TaskStatus.REJECTED)),
        )
        .values(status=TaskStatus.CANCELLED, updated_at=now)
    )
    return result.rowcount
