"""Background workers over the durable tables: the inbox (events to handle) and the
outbox (messages to send). Both are woken at once when work arrives and also poll, so
retries and rows left by a crashed process are picked up."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.feishu.gateway import FeishuError, FeishuGateway
from storage import inbox as inbox_store
from storage import outbox as outbox_store
from storage.cards import remember_card
from storage.models import InboundEvent, OutboundMessage
from storage.queue import claim

log = logging.getLogger("dutybot.workers")

Dispatch = Callable[[AsyncSession, InboundEvent], Awaitable[None]]


class Worker:
    """Run `process_once` whenever woken, and at least every `poll` seconds."""

    name = "worker"

    def __init__(self, clock: Clock, poll: float = 1.0) -> None:
        self.clock = clock
        self.poll = poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def process_once(self) -> int:
        raise NotImplementedError

    async def drain(self, max_rounds: int = 100) -> int:
        """Process until nothing is due (tests, `tick`, shutdown)."""
        total = 0
        for _ in range(max_rounds):
            done = await self.process_once()
            total += done
            if not done:
                break
        return total

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                while await self.process_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s pass failed; retrying", self.name)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll)
            except TimeoutError:
                pass
            self._wake.clear()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the pass in flight (up to `timeout`), then stop."""
        self._stopping = True
        self.wake()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
            except asyncio.CancelledError:
                pass


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


class OutboxWorker(Worker):
    name = "outbox"

    def __init__(
        self,
        sessions: async_sessionmaker,
        gateway: FeishuGateway,
        clock: Clock,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 100,
        concurrency: int = 16,
    ) -> None:
        super().__init__(clock)
        self.sessions, self.gateway = sessions, gateway
        self.lease, self.batch = lease, batch
        self.concurrency = concurrency

    async def process_once(self) -> int:
        async with self.sessions() as session:
            rows = await claim(session, OutboundMessage, self.clock.now(), self.lease, self.batch)
        # Keep each receiver's messages in order; different receivers go out concurrently.
        by_receiver: dict[str, list[OutboundMessage]] = defaultdict(list)
        for row in rows:
            by_receiver[row.receive_id or row.target_message_id or row.target_uuid or ""].append(
                row
            )
        gate = asyncio.Semaphore(self.concurrency)

        async def run(group: list[OutboundMessage]) -> None:
            async with gate:
                for row in group:
                    await self._send(row)

        await asyncio.gather(*(run(g) for g in by_receiver.values()))
        return len(rows)

    async def _deliver(self, row: OutboundMessage) -> str | None:
        gw = self.gateway
        if row.kind == "send":
            return await gw.send(
                row.receive_id_type or "chat_id",
                row.receive_id or "",
                row.msg_type,
                row.content,
                row.uuid,
            )
        if row.kind == "reply":
            return await gw.reply(
                row.target_message_id or "",
                row.msg_type,
                row.content,
                row.uuid,
                chat_id=row.receive_id,
            )
        if row.kind == "patch":
            target = row.target_message_id or await self._resolve(row.target_uuid)
            await gw.patch(target, row.content)
            return target
        if row.kind == "card_update":
            data = json.loads(row.content)
            await gw.delayed_update(data["token"], data["card"])
            return None
        raise FeishuError(-1, f"unknown outbox kind {row.kind!r}")

    async def _resolve(self, uuid: str | None) -> str:
        """The message id of a card we sent; retry later while it is still on its way."""
        async with self.sessions() as session:
            status, message_id = await outbox_store.sent_message_id(session, uuid or "")
        if message_id:
            return message_id
        if status in ("pending", "processing"):
            raise FeishuError(-1, f"card {uuid} not sent yet", retryable=True, retry_after=2)
        raise FeishuError(-1, f"card {uuid} was never sent ({status})")

    async def _send(self, row: OutboundMessage) -> None:
        try:
            message_id = await self._deliver(row)
        except FeishuError as exc:
            async with self.sessions() as session:
                status = await outbox_store.mark_attempt_failed(
                    session,
                    row,
                    self.clock.now(),
                    str(exc),
                    permanent=not exc.retryable,
                    retry_after=exc.retry_after,
                )
                await session.commit()
            log.warning("outbox %s (%s) failed: %s; now %s", row.uuid, row.kind, exc, status)
            return
        except Exception as exc:
            async with self.sessions() as session:
                await outbox_store.mark_attempt_failed(
                    session, row, self.clock.now(), repr(exc), permanent=False
                )
                await session.commit()
            log.exception("outbox %s (%s) crashed; will retry", row.uuid, row.kind)
            return
        async with self.sessions() as session:
            await outbox_store.mark_sent(session, row.id, self.clock.now(), message_id)
            card = (
                row.content
                if row.kind != "card_update"
                else json.dumps(json.loads(row.content)["card"])
            )
            if row.msg_type == "interactive" and (message_id or row.target_message_id):
                await remember_card(
                    session, message_id or row.target_message_id, card, self.clock.now()
                )
            await session.commit()
