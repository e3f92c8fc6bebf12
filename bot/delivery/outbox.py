"""The outbox worker: queued messages to Feishu through the gateway.

- Claims fairly: a few rows per receiver per pass, answers before bulk (storage.queue
  .claim_fair), so one chat's backlog never holds up another chat's answer.
- Retries with capped backoff until the row's purpose says it no longer matters
  (storage.outbox.PURPOSES); payload and permanent errors stop at once.
- Whatever is not delivered (expired, failed) is reported: bot.delivery.undelivered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.clock import Clock
from bot.delivery.outcomes import classify
from bot.delivery.undelivered import Undelivered, UndeliveredReporter
from bot.delivery.worker import Worker
from bot.feishu.gateway import FeishuError, FeishuGateway
from bot.feishu.limits import urgent
from storage import outbox as outbox_store
from storage.models import OutboundMessage
from storage.queue import claim_fair

log = logging.getLogger("dutybot.workers")

PER_LANE = 5  # one second of a receiver's 5/s limit per pass
URGENT = 0  # priority of answers someone is waiting for (storage.outbox.PURPOSES)
YIELD_MAX = 1.0  # seconds a pass waits at most for inline answers to finish


class InlineAnswers:
    """How many card callbacks are being answered inline on this event loop right now
    (`with answers:` around each). They have Feishu's 3 s budget; the outbox's messages
    can wait a moment, so a pass starts only when none is running, or after YIELD_MAX."""

    def __init__(self) -> None:
        self.running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __enter__(self) -> InlineAnswers:
        self.running += 1
        self._idle.clear()
        return self

    def __exit__(self, *exc) -> None:
        self.running -= 1
        if self.running == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)


class SentBook:
    """Group commit of what was sent: sends that finish while a write is running are
    recorded together by the next one (storage.outbox.record_sent: one transaction, on
    SQLite one call in the driver's thread), so a fan-out of 50 sends a second takes the
    database's write lock a few times a second, briefly, instead of holding it across
    three trips to the event loop per message. `record` returns once its row is stored."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions
        self._pending: list[tuple[outbox_store.Sent, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def record(self, sent: outbox_store.Sent) -> None:
        done = asyncio.get_running_loop().create_future()
        self._pending.append((sent, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    async with self.sessions() as session:
                        await outbox_store.record_sent(session, [sent for sent, _ in batch])
                except Exception as exc:  # noqa: BLE001 - handed to each waiting send
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._writer = None

    async def idle(self) -> None:
        """Wait for the write in flight (stopping: no send is left unrecorded)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)


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
        per_lane: int = PER_LANE,
        reporter: UndeliveredReporter | None = None,
        extra_kinds: dict | None = None,
        mirror=None,
        answers: InlineAnswers | None = None,
    ) -> None:
        super().__init__(clock)
        self.sessions, self.gateway = sessions, gateway
        self.lease, self.batch = lease, batch
        self.concurrency, self.per_lane = concurrency, per_lane
        self.reporter = reporter or UndeliveredReporter(sessions, clock)
        # kind -> async (row) -> message id or None: deliveries beyond messages and cards
        # (the Feishu Tasks mirror), registered by the composition root.
        self.extra_kinds = dict(extra_kinds or {})
        # Queues its own rows before a pass (bot.delivery.feishu_tasks.TaskMirror), if on.
        self.mirror = mirror
        self.answers = answers  # inline answers go first (the webhook's card callbacks)
        self._sent = SentBook(sessions)

    def wake(self) -> None:
        if self.mirror is not None:
            self.mirror.poke()  # a handled event, click or tick may have changed tasks
        super().wake()

    async def stop(self, timeout: float = 10.0) -> None:
        await super().stop(timeout)
        await self._sent.idle()  # a pass cut short may leave sends to record

    async def process_once(self) -> int:
        if self.answers is not None and self.answers.running:
            await self.answers.wait_idle(YIELD_MAX)
        if self.mirror is not None:
            await self.mirror.maybe_sync()
        now = self.clock.now()
        async with self.sessions() as session:
            expired = await outbox_store.expire_due(session, now)
        lost = [Undelivered.of(row, "expired", row.last_error or "") for row in expired]
        async with self.sessions() as session:
            rows = await claim_fair(session, now, self.lease, self.batch, self.per_lane)
        # Keep each receiver's messages in order; different receivers go out concurrently.
        by_lane: dict[str, list[OutboundMessage]] = defaultdict(list)
        for row in rows:
            by_lane[row.lane].append(row)
        gate = asyncio.Semaphore(self.concurrency)

        async def run(group: list[OutboundMessage]) -> None:
            async with gate:
                for row in group:
                    if (gone := await self._send(row)) is not None:
                        lost.append(gone)

        sending = asyncio.ensure_future(asyncio.gather(*(run(g) for g in by_lane.values())))
        answered = await self._answer_meanwhile(sending, lost)
        if lost:
            await self.reporter.report(lost)
        return len(rows) + len(expired) + answered

    async def _answer_meanwhile(self, sending: asyncio.Future, lost: list) -> int:
        """While a pass's sends wait for the rate limits (a fan-out can wait a minute for
        the next place), answers queued meanwhile (the inbox wakes us) go at once, with the
        headroom bulk sends cannot use (bot.feishu.limits.urgent), not after the pass."""
        answers: list[asyncio.Task] = []
        try:
            while not sending.done():
                woken = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait((sending, woken), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()
                if sending.done():
                    break
                self._wake.clear()
                async with self.sessions() as session:
                    rows = await claim_fair(
                        session, self.clock.now(), self.lease, self.batch, self.per_lane, URGENT
                    )
                answers += [asyncio.create_task(self._send(row)) for row in rows]
            await sending
            lost += [gone for gone in await asyncio.gather(*answers) if gone is not None]
        finally:  # stopped (cancelled): nothing of this pass goes on sending
            for work in (sending, *answers):
                work.cancel()
            sending.add_done_callback(lambda done: done.cancelled() or done.exception())
        return len(answers)

    async def deliver_for(self, seconds: float) -> int:
        """Send what is due, then keep at it (waiting for retries to come due and for
        leases of dead workers to run out) until nothing waits or `seconds` have passed.
        The clock must run (`tick` uses RunningClock)."""
        sent = await self.drain(max_rounds=1000)
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            async with self.sessions() as session:
                due = await outbox_store.next_due(session)
            if due is None:
                break
            wait = (due - self.clock.now()).total_seconds()
            if wait > left:
                break
            await asyncio.sleep(max(0.05, wait))
            sent += await self.drain(max_rounds=1000)
        return sent

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
        if row.kind in self.extra_kinds:
            return await self.extra_kinds[row.kind](row)
        raise FeishuError(230001, f"unknown outbox kind {row.kind!r}")

    async def _resolve(self, uuid: str | None) -> str:
        """The message id of a card we sent; retry later while it is still on its way."""
        async with self.sessions() as session:
            status, message_id = await outbox_store.sent_message_id(session, uuid or "")
        if message_id:
            return message_id
        if status in ("pending", "processing"):
            raise FeishuError(-1, f"card {uuid} not sent yet", retryable=True, retry_after=2)
        # The card itself never went out: there is nothing to update.
        raise FeishuError(230011, f"card {uuid} was never sent ({status})")

    async def _send(self, row: OutboundMessage) -> Undelivered | None:
        """Deliver one row; what could not be delivered (and will not be) is returned."""
        try:
            with urgent(row.priority <= URGENT):
                message_id = await self._deliver(row)
        except FeishuError as exc:
            reason = classify(exc.code, exc.retryable)
            async with self.sessions() as session:
                status = await outbox_store.mark_attempt_failed(
                    session,
                    row,
                    self.clock.now(),
                    str(exc),
                    permanent=reason is not None,
                    retry_after=exc.retry_after,
                )
                await session.commit()
            if status == "pending":
                log.warning("outbox %s (%s) failed: %s; will retry", row.uuid, row.purpose, exc)
                return None
            return Undelivered.of(row, reason or status, str(exc))
        except Exception as exc:
            async with self.sessions() as session:
                status = await outbox_store.mark_attempt_failed(
                    session, row, self.clock.now(), repr(exc), permanent=False
                )
                await session.commit()
            log.exception("outbox %s (%s) crashed; now %s", row.uuid, row.kind, status)
            return Undelivered.of(row, status, repr(exc)) if status != "pending" else None
        card = None
        if row.msg_type == "interactive" and row.kind in ("send", "reply", "patch", "card_update"):
            shown = message_id or row.target_message_id
            if shown:
                content = row.content
                if row.kind == "card_update":
                    content = json.dumps(json.loads(content)["card"])
                card = (shown, content)
        await self._sent.record(outbox_store.Sent(row.id, self.clock.now(), message_id, card))
        return None
