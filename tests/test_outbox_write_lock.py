"""The webhook's inbox insert is not held behind the workers' writes.

SQLite has one write lock. If a worker's write transaction (the outbox recording what it
sent, a claim, an answered event) spans trips back to the event loop, a busy loop (a
fan-out, a collection) keeps the lock, and the webhook's durable insert, which runs
without the loop, waits for it before Feishu gets its 200."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import aiosqlite
from sqlalchemy.engine import make_url
from sqlmodel import select

from storage.inbox import event_row
from storage.inbox_writer import SqliteInboxWriter, sqlite_file
from storage.models import CardSnapshot, InboundEvent, OutboundMessage
from storage.outbox import enqueue
from storage.queue import claim_fair
from tests import feishu_events as fe

STALL = 0.4  # the event loop busy this long after every trip to SQLite's thread


@contextlib.contextmanager
def busy_loop(bot, monkeypatch):
    """After every call in SQLite's thread, back on the loop: a webhook request's insert
    starts (in a thread, as the writer runs it), and the loop stays busy STALL s. Yields
    how long each insert waited."""
    writer = SqliteInboxWriter(sqlite_file(make_url(bot.settings.database_url)))
    now = bot.clock.now()
    waits: list[float] = []
    probes: list[threading.Thread] = []
    errors: list[Exception] = []

    def probe(n: int) -> None:
        started = time.perf_counter()
        row = event_row(
            dedupe_key=f"msg:probe{n}",
            event_id=f"probe{n}",
            event_type="im.message.receive_v1",
            payload="{}",
            event_created_at=now,
            now=now,
            status="dropped",
        )
        try:
            writer._insert([row])  # noqa: SLF001 - what the writer thread runs for a batch
        except Exception as exc:  # noqa: BLE001 - reported as a wait that never ended
            errors.append(exc)
            waits.append(float("inf"))
            return
        waits.append(time.perf_counter() - started)

    real = aiosqlite.Connection._execute

    async def then_busy(self, fn, *args, **kwargs):
        result = await real(self, fn, *args, **kwargs)
        thread = threading.Thread(target=probe, args=(len(probes),))
        probes.append(thread)
        thread.start()
        thread.join(STALL)  # blocks the loop, as a long synchronous step would
        return result

    monkeypatch.setattr(aiosqlite.Connection, "_execute", then_busy)
    try:
        yield waits
    finally:
        monkeypatch.undo()
        for thread in probes:
            thread.join(30)
        writer._close()  # noqa: SLF001
    assert probes and len(waits) == len(probes), errors


async def queue_cards(bot, n: int) -> None:
    async with bot.sessions() as session:
        for i in range(n):
            await enqueue(
                session,
                uuid=f"lock-{i}",
                now=bot.clock.now(),
                kind="send",
                purpose="reminder",
                body={"schema": "2.0", "body": {"elements": []}},
                receive_id_type="open_id",
                receive_id=f"ou_lock{i}",
            )
        await session.commit()


async def assert_sent(bot, n: int) -> None:
    async with bot.sessions() as session:
        sent = (await session.exec(select(OutboundMessage))).all()
        shown = set((await session.exec(select(CardSnapshot.message_id))).all())
    assert len(sent) == n and {r.status for r in sent} == {"sent"}
    assert all(r.feishu_message_id in shown for r in sent)


async def test_recording_sends_does_not_hold_the_inbox_insert(harness, monkeypatch):
    bot = harness.bot
    await queue_cards(bot, 3)
    async with bot.sessions() as session:
        rows = await claim_fair(session, bot.clock.now(), bot.outbox.lease, 10, 5)
    assert len(rows) == 3
    bot.gateway.warm()
    with busy_loop(bot, monkeypatch) as waits:
        for row in rows:
            assert await bot.outbox._send(row) is None  # noqa: SLF001
    assert max(waits) < STALL / 2, [round(w, 3) for w in waits]
    await assert_sent(bot, 3)


async def test_a_whole_outbox_pass_does_not_hold_the_inbox_insert(harness, monkeypatch):
    """Expiry sweep, claim and the record of what was sent."""
    bot = harness.bot
    await queue_cards(bot, 3)
    bot.gateway.warm()
    with busy_loop(bot, monkeypatch) as waits:
        assert await bot.outbox.process_once() == 3
    assert max(waits) < STALL / 2, [round(w, 3) for w in waits]
    await assert_sent(bot, 3)


async def test_answering_an_event_does_not_hold_the_inbox_insert(harness, monkeypatch):
    """The handler's reads, then its answer and the event's `done` in one call."""
    bot = harness.bot
    await harness.say("待办", sender="ou_planner")  # (remembers the language they write in)
    resp = await harness.post(fe.message("待办", "ou_planner", bot.clock.now()))
    assert resp.status == 200
    with busy_loop(bot, monkeypatch) as waits:
        assert await bot.inbox.process_once() == 1
    assert max(waits) < STALL / 2, [round(w, 3) for w in waits]
    async with bot.sessions() as session:
        statuses = (await session.exec(select(InboundEvent.status))).all()
        answers = (
            await session.exec(select(OutboundMessage).where(OutboundMessage.purpose == "answer"))
        ).all()
    assert "pending" not in statuses and len(answers) == 2


async def test_the_webhook_insert_does_not_queue_behind_the_writer_thread(db_url):
    """With the write lock free the insert is made at once, not after whatever the
    writer's thread is doing; with the lock taken it waits for it (never acknowledged
    before it is stored)."""
    from datetime import UTC, datetime

    writer = SqliteInboxWriter(sqlite_file(make_url(db_url)))
    now = datetime.now(UTC)

    def row(n: int) -> dict:
        return event_row(
            dedupe_key=f"msg:w{n}",
            event_id=f"w{n}",
            event_type="im.message.receive_v1",
            payload="{}",
            event_created_at=now,
            now=now,
        )

    try:
        busy = threading.Event()
        writer._executor.submit(lambda: busy.wait(5))  # noqa: SLF001 - the thread is busy
        started = time.perf_counter()
        assert await writer.record([row(1)]) == {"msg:w1"}
        assert time.perf_counter() - started < 1.0
        busy.set()

        import sqlite3

        other = sqlite3.connect(sqlite_file(make_url(db_url)), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        pending = asyncio.ensure_future(writer.record([row(2)]))
        await asyncio.sleep(0.3)
        assert not pending.done()  # not acknowledged: not stored yet
        other.execute("COMMIT")
        assert await asyncio.wait_for(pending, 10) == {"msg:w2"}
        assert await writer.record([row(2)]) == set()  # stored once
        other.close()
    finally:
        await writer.close()
