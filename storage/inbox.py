"""The durable inbox of Feishu events: de-duplication and processing state."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent
from storage.queue import backoff, insert_ignore

MAX_ATTEMPTS = 6


async def record_event(
    session: AsyncSession,
    *,
    dedupe_key: str,
    event_id: str,
    event_type: str,
    payload: dict,
    event_created_at: datetime,
    now: datetime,
    status: str = "pending",
) -> bool:
    """Store an event once; False when it (or the same message) was seen before."""
    return 1 == await insert_ignore(
        session,
        InboundEvent,
        {
            "dedupe_key": dedupe_key,
            "event_id": event_id,
            "event_type": event_type,
            "payload": json.dumps(payload, ensure_ascii=False),
            "status": status,
            "attempts": 0,
            "received_at": now,
            "event_created_at": event_created_at,
            "next_attempt_at": now,
            "processed_at": now if status != "pending" else None,
        },
        key="dedupe_key",
    )


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
