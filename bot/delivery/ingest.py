"""Group commit for the webhook: concurrent requests share one INSERT and one COMMIT.

Each request still waits until its event is durable before Feishu gets the 200, but under
load a single transaction carries many events, so the database does not cap ingestion.
A batch the database refuses is stored again one event per transaction, so one event that
cannot be stored fails only its own request."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.db import is_unavailable
from storage.inbox import record_events, record_events_asyncpg, refused_by_postgres
from storage.inbox_writer import SqliteInboxWriter, sqlite_file

log = logging.getLogger("dutybot.ingest")

MAX_BATCH = 500


class UnstorableEvent(ValueError):
    """The database refuses this event's values (not a database outage): answer 400."""


def _is_data_error(exc: BaseException) -> bool:
    """The row itself is refused (a value the driver cannot encode, a byte the database
    rejects), as opposed to the database being unreachable or busy, where a later retry
    can succeed. Anything else (a bug) is not blamed on the event."""
    if refused_by_postgres(exc):
        return True
    if is_unavailable(exc) or isinstance(exc, sqlite3.OperationalError):
        return False  # (the SQLite writer's own driver: locked, unreadable, disk full)
    return isinstance(
        exc,
        DBAPIError
        | StatementError
        | UnicodeError
        | ValueError
        | sqlite3.DatabaseError
        | sqlite3.InterfaceError,
    )


class IngestBatcher:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pending: list[tuple[dict, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task | None = None
        # SQLite files get a dedicated writer thread (measured: bench/ingress.py);
        # PostgreSQL keeps the Core statement on the engine's pool.
        path = sqlite_file(engine.url)
        self._writer = SqliteInboxWriter(path) if path else None
        # PostgreSQL (asyncpg): one connection of its own, without the pool's pre-ping
        # (three round trips per checkout), the insert sent straight to the driver.
        self._pg: AsyncEngine | None = None
        if engine.url.get_backend_name() == "postgresql" and engine.url.get_driver_name() == (
            "asyncpg"
        ):
            self._pg = create_async_engine(
                engine.url, pool_size=1, max_overflow=0, pool_pre_ping=False
            )

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        if self._pg is not None:
            await self._pg.dispose()

    async def _record_pg(self, rows: list[dict], retry: bool = True) -> set[str]:
        assert self._pg is not None
        async with self._pg.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            try:
                return await record_events_asyncpg(driver, rows)
            except Exception as exc:
                if refused_by_postgres(exc) or not is_unavailable(exc):
                    raise
                await conn.invalidate()  # a connection the server dropped: a new one, once
                if not retry:
                    raise
        return await self._record_pg(rows, retry=False)

    async def submit(self, row: dict) -> bool:
        """Store one inbox row; True when it is new (not a duplicate). Raises
        UnstorableEvent when the database refuses this row's values."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _store(self, batch: list[tuple[dict, asyncio.Future[bool]]]) -> None:
        rows = [row for row, _ in batch]
        if self._writer is not None:
            new = await self._writer.record(rows)
        elif self._pg is not None:
            new = await self._record_pg(rows)
        else:
            async with self.engine.begin() as conn:
                new = await record_events(conn, rows)
        first = set()
        for row, future in batch:
            key = row["dedupe_key"]
            if not future.done():
                future.set_result(key in new and key not in first)
            first.add(key)

    async def _store_one_by_one(self, batch: list[tuple[dict, asyncio.Future[bool]]]) -> None:
        for item in batch:
            row, future = item
            try:
                await self._store([item])
            except Exception as exc:  # noqa: BLE001 - handed to the request that sent it
                if future.done():
                    continue
                if _is_data_error(exc):
                    log.error(
                        "event %r cannot be stored (%s); refused with 400",
                        row.get("event_id"),
                        type(exc).__name__,
                    )
                    future.set_exception(UnstorableEvent(str(row.get("event_id"))))
                else:
                    future.set_exception(exc)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    await self._store(batch)
                except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
                    if _is_data_error(exc):
                        await self._store_one_by_one(batch)
                        continue
                    # The database is down or busy: every request answers 503 and Feishu
                    # delivers again later (no point in trying each row against it).
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
        finally:
            self._flusher = None
