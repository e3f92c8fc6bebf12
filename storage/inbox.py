"""The durable inbox of Feishu events: de-duplication and processing state."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent
from storage.queue import backoff

MAX_ATTEMPTS = 6


def event_row(
    *,
    dedupe_key: str,
    event_id: str,
    event_type: str,
    payload: str,
    event_created_at: datetime,
    now: datetime,
    status: str = "pending",
) -> dict:
    """The values of one inbox row (`payload` is the event's JSON text as received)."""
    return {
        "dedupe_key": dedupe_key,
        "event_id": event_id,
        "event_type": event_type,
        "payload": payload,
        "status": status,
        "attempts": 0,
        "received_at": now,
        "event_created_at": event_created_at,
        "next_attempt_at": now,
        "processed_at": now if status != "pending" else None,
    }


async def record_events(conn: AsyncConnection, rows: list[dict]) -> set[str]:
    """Store events once each (one Core statement, no ORM: this is the webhook's hot path);
    returns the dedupe keys that were new."""
    if not rows:
        return set()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    table = InboundEvent.__table__
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.dedupe_key)
    )
    result = await conn.execute(stmt, rows)
    return set(result.scalars().all())


async def mark_done(session: AsyncSession, event_id: int, now: datetime) -> None:
    """Finish a claimed event (in the same transaction as the handler's writes)."""
    await session.exec(
        update(InboundEvent)
        .where(InboundEvent.id == event_id)
        .values(status="done", processed_at=now, lease_until=None, last_error=None)
    )


async def mark_failed_attempt(
    session: AsyncSession, row: InboundEvent, now: datetime, error: str
) -> str:
    """Schedule a retry with backoff, or park the event as failed; returns the new status."""
    attempts = row.attempts + 1
    status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
    await session.exec(
        update(InboundEvent)
        .where(InboundEvent.id == row.id)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=now + backoff(attempts),
            lease_until=None,
            last_error=error[:2000],
        )
    )
    return status


async def purge_old(session: AsyncSession, now: datetime, keep: timedelta) -> int:
    """Forget finished events older than the de-duplication window."""
    result = await session.exec(
        delete(InboundEvent).where(
            InboundEvent.received_at < now - keep,
            InboundEvent.status.in_(("done", "failed", "dropped")),
        )
    )
    return result.rowcount or 0
