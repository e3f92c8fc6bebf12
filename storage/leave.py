"""Leave: spans of days (inclusive) when a member gets no reminders and their tasks due
then are excused in digests. From the team file (`leave = [["YYYY-MM-DD", "YYYY-MM-DD"]]`)
or an admin's chat command."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Leave
from storage.queue import insert_ignore


async def add_leave(
    session: AsyncSession, open_id: str, start: date, end: date, now: datetime
) -> bool:
    """Record a span; False if exactly this span was already recorded. Does not commit."""
    return 1 == await insert_ignore(
        session,
        Leave,
        {"open_id": open_id, "start_date": start, "end_date": end, "created_at": now},
        ["open_id", "start_date", "end_date"],
    )


async def remove_leave(session: AsyncSession, open_id: str, since: date) -> int:
    """Remove the member's current and future spans (those ending on or after `since`);
    past leave stays, so past digests keep their excused tasks."""
    stmt = delete(Leave).where(Leave.open_id == open_id, Leave.end_date >= since)
    result = await session.exec(stmt)
    return result.rowcount


async def list_leave(
    session: AsyncSession, since: date | None = None, open_id: str | None = None
) -> list[Leave]:
    stmt = select(Leave)
    if since is not None:
        stmt = stmt.where(Leave.end_date >= since)
    if open_id is not None:
        stmt = stmt.where(Leave.open_id == open_id)
    return list((await session.exec(stmt.order_by(Leave.start_date, Leave.open_id))).all())
