"""The durable inbox of Feishu events: de-duplication and processing state."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.inbox_writer import stored_value
from storage.models import InboundEvent
from storage.queue import backoff
from storage.sqlite_driver import OneHopConnection, write_later

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


_TABLE = InboundEvent.__table__
# A Core statement built once (the ORM form was rebuilt and re-keyed for every event).
_MARK_DONE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(status="done", processed_at=bindparam("done_at"), lease_until=None, last_error=None)
)


_MARK_DONE_SQLITE = (
    "UPDATE inbound_events SET status = 'done', processed_at = ?, lease_until = NULL,"
    " last_error = NULL WHERE id = ?"
)


_PG_COLUMNS = (
    ("dedupe_key", "text"),
    ("event_id", "text"),
    ("event_type", "text"),
    ("payload", "text"),
    ("status", "text"),
    ("attempts", "int"),
    ("received_at", "timestamptz"),
    ("event_created_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
    ("processed_at", "timestamptz"),
)
_PG_INSERT = (
    f"INSERT INTO inbound_events ({', '.join(c for c, _ in _PG_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(_PG_COLUMNS, 1))
    + ") ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
)


async def record_events_asyncpg(driver, rows: list[dict]) -> set[str]:
    """record_events on an asyncpg connection outside any transaction: one statement (a
    column array per field, whatever the batch size), committed when it returns."""
    if not rows:
        return set()
    arrays = [[row[name] for row in rows] for name, _ in _PG_COLUMNS]
    return {record[0] for record in await driver.fetch(_PG_INSERT, *arrays)}


def refused_by_postgres(exc: BaseException) -> bool:
    """asyncpg refused the values themselves: a data exception (SQLSTATE class 22), an
    integrity violation (class 23), or an argument it cannot encode (a lone surrogate)."""
    try:
        from asyncpg import exceptions
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        exceptions.DataError
        | exceptions.IntegrityConstraintViolationError
        | exceptions._base.DataError,
    )


async def mark_done(session: AsyncSession, event_id: int, now: datetime) -> None:
    """Finish a claimed event (in the same transaction as the handler's writes).

    On aiosqlite the UPDATE waits on the session's own driver connection for its next
    hop (storage.sqlite_driver.write_later), usually the COMMIT that follows: with the
    handler's queued writes (its answer in the outbox) the transaction is then one call in
    SQLite's thread, holding the write lock while it runs, not across event-loop turns."""
    conn = await session.connection()
    if conn.dialect.name == "sqlite" and conn.dialect.driver == "aiosqlite":
        raw = await conn.get_raw_connection()
        if isinstance(raw.dbapi_connection, OneHopConnection):
            write_later(raw.driver_connection, _MARK_DONE_SQLITE, (stored_value(now), event_id))
            return
        await raw.driver_connection.execute(_MARK_DONE_SQLITE, (stored_value(now), event_id))
        return
    await conn.execute(_MARK_DONE, {"row_id": event_id, "done_at": now})


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
