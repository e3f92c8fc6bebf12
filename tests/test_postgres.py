"""The production store: migrations, de-duplication and claiming on PostgreSQL.

Runs where a server is reachable (DUTYBOT_TEST_PG, default postgresql://postgres@127.0.0.1:5432);
skipped with the reason elsewhere."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import func, select

from bot.app import build_app
from bot.transport.webhook import make_web_app
from storage import db
from storage.models import InboundEvent, OutboundMessage
from storage.outbox import enqueue
from storage.queue import claim
from tests import feishu_events as fe
from tests.conftest import Harness, make_settings, sync_team


async def test_start_up_refuses_a_database_that_is_behind(pg_url):
    engine = db.make_engine(pg_url)
    with pytest.raises(db.DatabaseBehind, match="dutybot db upgrade"):
        await db.ensure_schema(engine, auto_upgrade=False)
    await db.upgrade(engine)
    await db.ensure_schema(engine, auto_upgrade=False)
    assert await db.current_revision(engine) == db.head_revision()
    await engine.dispose()


async def test_whats_due_end_to_end_on_postgres(pg_url, emulator, clock):
    engine = db.make_engine(pg_url)
    await db.upgrade(engine)
    await engine.dispose()
    bot = build_app(make_settings(pg_url, emulator.base_url), clock=clock)
    await bot.start()
    await sync_team(bot)
    client = TestClient(TestServer(make_web_app(bot)))
    await client.start_server()
    try:
        h = Harness(bot, client, emulator, clock)
        payload = fe.message("待办", "ou_manager", clock.now())
        await asyncio.gather(*(h.post(payload) for _ in range(5)))
        await h.settle()
        assert len(emulator.messages) == 1
        assert "项目进度周报" in str(emulator.messages[0].card)
        async with bot.sessions() as session:
            assert (await session.exec(select(func.count()).select_from(InboundEvent))).one() == 1
    finally:
        await client.close()
        await bot.stop()


async def test_concurrent_claims_never_take_the_same_row(pg_url, clock):
    engine = db.make_engine(pg_url)
    await db.upgrade(engine)
    sessions = db.make_session_factory(engine)
    async with sessions() as session:
        for i in range(200):
            await enqueue(
                session,
                uuid=f"u{i}",
                now=clock.now(),
                kind="send",
                body="x",
                msg_type="text",
                receive_id_type="chat_id",
                receive_id="oc_1",
            )
        await session.commit()

    async def worker() -> list[int]:
        got = []
        while True:
            async with sessions() as session:
                rows = await claim(session, OutboundMessage, clock.now(), timedelta(minutes=1), 7)
            if not rows:
                return got
            got += [r.id for r in rows]

    results = await asyncio.gather(*(worker() for _ in range(4)))
    ids = [i for r in results for i in r]
    assert len(ids) == 200 and len(set(ids)) == 200
    await engine.dispose()
