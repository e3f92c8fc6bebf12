"""Several schedulers on one PostgreSQL database never double a message.

1. Real processes: two `python -m bot tick --now …` started together for one busy instant
   (due today, escalations and the weekly digest), sending through the Feishu emulator; the
   messages Feishu got equal, one for one, what a single replica on SQLite decides.
2. Three in-process replicas (separate engines and pools) ticking every 30 simulated
   minutes through two working days: each (job, period) happens exactly once.

Skipped (with the reason) when no PostgreSQL server is reachable."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from datetime import UTC, date, timedelta
from pathlib import Path

from sqlmodel import func, select

from bot.app import build_app
from bot.clock import FixedClock
from bot.jobs.scheduler import run_tick
from storage import db
from storage.models import Marker, OutboundMessage
from tests import feishu_events as fe
from tests.conftest import NOW, make_settings, sync_team
from tests.sched_helpers import at, content, new_activity, title

ROOT = Path(__file__).resolve().parent.parent

STARTUP_SECONDS = 8.0  # enough for two cold starts (lark-oapi import) on two cores

# One instant is enough for processes racing (the ladder over many instants is part 2);
# each round of processes costs a cold start of each interpreter, and two processes race
# for the same rows as surely as three.
INSTANTS = [at(2026, 12, 4, 17, 30)]  # heads-up, due today and the weekly digest


async def _setup(url: str, domain: str, *, credentials: bool):
    """The team and one activity, as of Thu 2026-11-26 10:00."""
    engine = db.make_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    extra = {} if credentials else {"app_id": "", "app_secret": "", "verification_token": ""}
    bot = build_app(make_settings(url, domain, **extra), clock=FixedClock(NOW))
    await bot.start()
    await sync_team(bot)
    await new_activity(bot, date(2026, 12, 28), date(2026, 12, 29))
    return bot


async def _reference(tmp_path: Path, instants) -> tuple[Counter, int]:
    """What one replica on SQLite queues for these instants: (receiver, title) counts."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}"
    bot = await _setup(url, "http://127.0.0.1:9", credentials=False)
    try:
        for when in instants:
            report = await run_tick(bot, when.astimezone(UTC))
            assert report.errors == []
        async with bot.sessions() as s:
            rows = (await s.exec(select(OutboundMessage))).all()
    finally:
        await bot.stop()
    return Counter((r.receive_id, title(content(r))) for r in rows), len(rows)


def _env(url: str, emulator) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FEISHU_", "DUTYBOT_", "DATABASE_URL"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=url,
        FEISHU_APP_ID=fe.APP_ID,
        FEISHU_APP_SECRET=fe.APP_SECRET,
        FEISHU_VERIFICATION_TOKEN=fe.VERIFICATION_TOKEN,
        FEISHU_ENCRYPT_KEY=fe.ENCRYPT_KEY,
        FEISHU_DOMAIN=emulator.base_url,
        DUTYBOT_LOG_LEVEL="WARNING",
    )
    return env


async def _tick_processes(n: int, when, env: dict, cwd: Path) -> list[tuple[int, str]]:
    """n processes that start up, then run their pass at the same wall-clock moment."""
    start_at = str(time.time() + STARTUP_SECONDS)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "tick",
            "--now",
            when.isoformat(),
            "--start-at",
            start_at,
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(n)
    ]
    out = []
    for p in procs:
        stdout, stderr = await asyncio.wait_for(p.communicate(), 180)
        out.append((p.returncode, stdout.decode() + stderr.decode()))
    return out


async def test_two_tick_processes_at_once_send_each_message_once(pg_url, emulator, tmp_path):
    expected, expected_rows = await _reference(tmp_path, INSTANTS)
    bot = await _setup(pg_url, emulator.base_url, credentials=True)
    await bot.connect_feishu()
    await bot.outbox.drain()  # the setup's announcements go now (a week on, they expire)
    await bot.stop()
    env = _env(pg_url, emulator)
    for when in INSTANTS:
        results = await _tick_processes(2, when, env, tmp_path)
        for code, output in results:
            assert code == 0, output
    got = Counter((m.receive_id, title(m.card)) for m in emulator.messages)
    assert got == expected  # exactly what one replica decides, each message once
    assert len(emulator.messages) == expected_rows
    assert len({m.uuid for m in emulator.messages}) == len(emulator.messages)
    reminders = [m for m in emulator.messages if title(m.card).startswith("提醒")]
    assert len(reminders) >= 5  # the race covers reminders, not just the digest
    assert len([m for m in emulator.messages if title(m.card).startswith("每周汇总")]) == 1
    engine = db.make_engine(pg_url)
    sessions = db.make_session_factory(engine)
    async with sessions() as s:
        statuses = Counter((await s.exec(select(OutboundMessage.status))).all())
    await engine.dispose()
    assert statuses == {"sent": expected_rows}


async def test_three_replicas_ticking_through_two_working_days(pg_url, emulator, tmp_path):
    instants = [
        day + timedelta(minutes=30 * i)
        for day in (at(2026, 12, 3, 8, 0), at(2026, 12, 4, 8, 0))
        for i in range(2 * 12)  # 08:00 to 19:30, the working hours and then some
    ]
    expected, _ = await _reference(tmp_path, instants)
    first = await _setup(pg_url, emulator.base_url, credentials=False)
    replicas = [first] + [
        build_app(
            make_settings(
                pg_url, emulator.base_url, app_id="", app_secret="", verification_token=""
            ),
            clock=FixedClock(NOW),
        )
        for _ in range(2)
    ]
    try:
        for when in instants:
            reports = await asyncio.gather(
                *(run_tick(bot, when.astimezone(UTC)) for bot in replicas)
            )
            for r in reports:
                assert r.errors == [], r.errors
        async with first.sessions() as s:
            rows = (await s.exec(select(OutboundMessage))).all()
            markers = (await s.exec(select(func.count()).select_from(Marker))).one()
    finally:
        for bot in replicas:
            await bot.stop()
    got = Counter((r.receive_id, title(content(r))) for r in rows)
    assert got == expected
    assert len({r.uuid for r in rows}) == len(rows)
    assert markers > len(rows) / 2


# -- Feishu's rate limits, shared ----------------------------------------------------------

# Feishu's limits scaled down (app 10/s instead of 50/s) so that three replicas on a loaded
# test machine can exceed them; the bot's own limits scaled alike (8/s instead of 40/s).
# The receiver limit is Feishu's own: 5/s.
FEISHU_PER_SECOND, OUR_PER_SECOND = 10, 8
RECEIVERS, EACH, BUSY = 7, 4, 12  # 40 sends: 7 people × 4, and 12 to one busy person


async def _queue_sends(bot) -> list[str]:
    """Text messages to seven people and a dozen more to one busy person, queued at once."""
    from storage.outbox import enqueue

    targets = [f"ou_r{i:02d}" for i in range(RECEIVERS) for _ in range(EACH)]
    targets += ["ou_busy"] * BUSY
    uuids = []
    async with bot.sessions() as s:
        for n, receiver in enumerate(targets):
            uuid = f"limits-{n:04d}"
            await enqueue(
                s,
                uuid=uuid,
                now=bot.clock.now(),
                kind="send",
                body=f"message {n}",
                msg_type="text",
                receive_id_type="open_id",
                receive_id=receiver,
            )
            uuids.append(uuid)
        await s.commit()
    return uuids


async def test_three_replicas_share_feishus_rate_limits(pg_url, emulator):
    """Three replicas drain one outbox at once, each free to send at the app's full rate:
    the buckets in the database pace them together under the app and receiver limits (as
    the emulator measures them, answering 429 / 230020 as Feishu does): under 5 %
    rate-limit answers, every message delivered exactly once. (Each replica alone, at 8/s,
    three together would send 24/s into a 10/s limit.)"""
    from bot.feishu.limits import SendLimits

    emulator.app_per_second, emulator.app_per_minute = FEISHU_PER_SECOND, 200
    engine = db.make_engine(pg_url)
    await db.upgrade(engine)
    await engine.dispose()
    replicas = [build_app(make_settings(pg_url, emulator.base_url)) for _ in range(3)]
    for bot in replicas:
        shared = bot.gateway.limits.shared
        assert shared is not None  # PostgreSQL: the app wired the database buckets
        bot.gateway.limits = SendLimits(OUR_PER_SECOND, 190, shared=shared)
        await bot.start()
    try:
        uuids = await _queue_sends(replicas[0])
        started = time.monotonic()
        await asyncio.gather(*(bot.outbox.deliver_for(60) for bot in replicas))
        elapsed = time.monotonic() - started
        async with replicas[0].sessions() as s:
            statuses = Counter((await s.exec(select(OutboundMessage.status))).all())
    finally:
        for bot in replicas:
            await bot.stop()
    sent = [m for m in emulator.messages if m.uuid and m.uuid.startswith("limits-")]
    stats = emulator.stats
    limited = stats["http_429"] + stats["code_230020"]
    assert sorted(m.uuid for m in sent) == sorted(uuids)  # none lost, none doubled
    assert statuses == {"sent": len(uuids)}
    assert limited < 0.05 * len(uuids), (limited, stats)
    # paced as one: 40 calls, 8 in any second, take over 4 s (three unshared replicas: ~1.7 s)
    assert elapsed >= (len(uuids) // OUR_PER_SECOND - 1) * 0.9, elapsed
