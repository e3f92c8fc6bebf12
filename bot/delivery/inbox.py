"""The inbox worker: stored events to their handlers, each handler's writes and the
event's `done` committed together; a failing handler is retried with backoff."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.delivery.worker import Worker
from storage import inbox as inbox_store
from storage.models import InboundEvent
from storage.queue import claim

log = logging.getLogger("dutybot.workers")

Dispatch = Callable[[AsyncSession, InboundEvent], Awaitable[None]]


class InboxWorker(Worker):
    name = "inbox"

    def __init__(
        self,
        sessions: async_sessionmaker,
        dispatch: Dispatch,
        clock: Clock,
        after: Callable[[], None] = lambda: None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
    ) -> None:
        super().__init__(clock)
        self.sessions, self.dispatch, self.after = sessions, dispatch, after
        self.lease, self.batch = lease, batch
        self.stats = {"processed": 0, "errors": 0}

    async def process_once(self) -> int:
        async with self.sessions() as session:
            rows = await claim(session, InboundEvent, self.clock.now(), self.lease, self.batch)
        for row in rows:
            await self._process(row)
        if rows:
            self.after()
        return len(rows)

    async def _process(self, row: InboundEvent) -> None:
        try:
            async with self.sessions() as session:
                await self.dispatch(session, row)
                await inbox_store.mark_done(session, row.id, self.clock.now())
                await session.commit()
            self.stats["processed"] += 1
        except Exception as exc:
            self.stats["errors"] += 1
            async with self.sessions() as session:
                status = await inbox_store.mark_failed_attempt(
                    session, row, self.clock.now(), f"{type(exc).__name__}: {exc}"
                )
                await session.commit()
            log.exception(
                "handler failed for event %s (%s), attempt %d, now %s",
                row.event_id,
                row.event_type,
                row.attempts + 1,
                status,
            )
