"""Group commit for the webhook: concurrent requests share one INSERT and one COMMIT.

Each request still waits until its event is durable before Feishu gets the 200, but under
load a single transaction carries many events, so the database does not cap ingestion."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.inbox import record_events

MAX_BATCH = 500


class IngestBatcher:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pending: list[tuple[dict, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task | None = None

    async def submit(self, row: dict) -> bool:
        """Store one inbox row; True when it is new (not a duplicate)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    async with self.engine.begin() as conn:
                        new = await record_events(conn, [row for row, _ in batch])
                except Exception as exc:  # the requests answer 503; Feishu redelivers
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                first = set()
                for row, future in batch:
                    key = row["dedupe_key"]
                    if not future.done():
                        future.set_result(key in new and key not in first)
                    first.add(key)
        finally:
            self._flusher = None
