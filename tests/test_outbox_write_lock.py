"""The webhook's inbox insert is not held behind the outbox's bookkeeping.

SQLite has one write lock. The outbox records every sent message (status, Feishu message
id, the card shown); if that transaction spans trips back to the event loop, a busy loop
(a fan-out, a collection) keeps the lock, and the webhook's durable insert, which runs
in its own thread and needs no loop, waits for it before Feishu gets its 200."""

from __future__ import annotations

import threading
import time

import aiosqlite
from sqlalchemy.engine import make_url
from sqlmodel import select

from storage.inbox import event_row
from storage.inbox_writer import SqliteInboxWriter, sqlite_file
from storage.models import CardSnapshot, OutboundMessage
from storage.outbox import enqueue
from storage.queue import claim_fair

STALL = 0.4  # the event loop busy this long after every trip to SQLite's thread


async def test_the_inbox_insert_does_not_wait_while_the_loop_is_busy(harness, monkeypatch):
    bot, now = harness.bot, harness.clock.now()
    async with bot.sessions() as session:
        for i in range(3):
            await enqueue(
                session,
                uuid=f"lock-{i}",
                now=now,
                kind="send",
                purpose="reminder",
                body={"schema": "2.0", "body": {"elements": []}},
                receive_id_type="open_id",
                receive_id=f"ou_lock{i}",
            )
        await session.commit()
    async with bot.sessions() as session:
        rows = await claim_fair(session, now, bot.outbox.lease, 10, 5)
    assert len(rows) == 3
    bot.gateway.warm()

    writer = SqliteInboxWriter(sqlite_file(make_url(bot.settings.database_url)))
    waits: list[float] = []
    probes: list[threading.Thread] = []

    def probe(n: int) -> None:
        started = time.perf_counter()
        row = event_row(
            dedupe_key=f"msg:probe{n}",
            event_id=f"probe{n}",
            event_type="im.message.receive_v1",
            payload="{}",
            event_created_at=now,
            now=now,
        )
        writer._insert([row])  # noqa: SLF001 - what the writer thread runs for a batch
        waits.append(time.perf_counter() - started)

    real = aiosqlite.Connection._execute

    async def then_busy(self, fn, *args, **kwargs):
        result = await real(self, fn, *args, **kwargs)
        # Back on the loop: a webhook request arrives and the loop stays busy STALL s.
        thread = threading.Thread(target=probe, args=(len(probes),))
        probes.append(thread)
        thread.start()
        thread.join(STALL)  # blocks the loop, as a long synchronous step would
        return result

    monkeypatch.setattr(aiosqlite.Connection, "_execute", then_busy)
    try:
        for row in rows:
            assert await bot.outbox._send(row) is None  # noqa: SLF001
    finally:
        monkeypatch.undo()
        for thread in probes:
            thread.join(30)
        writer._close()  # noqa: SLF001

    assert probes and len(waits) == len(probes)
    assert max(waits) < STALL / 2, [round(w, 3) for w in waits]
    async with bot.sessions() as session:
        sent = (await session.exec(select(OutboundMessage))).all()
        assert {r.status for r in sent} == {"sent"}
        assert all(r.feishu_message_id for r in sent)
        shown = (await session.exec(select(CardSnapshot.message_id))).all()
    assert {r.feishu_message_id for r in sent} <= set(shown)
