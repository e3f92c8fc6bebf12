"""The rate limits replicas share through PostgreSQL (storage.rate_limits).

Skipped (with the reason) when no PostgreSQL server is reachable."""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import text

from storage import db
from storage.rate_limits import IN_FLIGHT, Bucket, prune, reserve

SECOND = Bucket("app:second", 1.0, 2)


async def _engine(pg_url):
    engine = db.make_engine(pg_url)
    await db.upgrade(engine)
    return engine


async def test_a_call_takes_a_free_place_not_one_still_in_flight(pg_url):
    """A's call is still in flight (its place held `window + IN_FLIGHT` after its start),
    B's has answered (its place frees `window` after the answer): C takes B's place and
    waits about a second, not the two it would wait behind A's place."""
    engine = await _engine(pg_url)
    try:
        (a,) = await reserve(engine, [SECOND])
        (b,) = await reserve(engine, [SECOND])
        assert a.wait == b.wait == 0.0
        await b.release()
        (c,) = await reserve(engine, [SECOND])
        assert c.places[0][0] == b.places[0][0]
        assert 0.5 < c.wait < 1.0 + IN_FLIGHT / 2, c.wait
    finally:
        await engine.dispose()


async def test_replicas_never_put_more_than_the_limit_in_a_window(pg_url):
    """Two engines (replicas) taking places at once, answering after a while or not at
    all: in every bucket, any `limit + 1` calls span at least the window."""
    engines = [await _engine(pg_url) for _ in range(2)]
    buckets = [Bucket("t:second", 1.0, 4), Bucket("t:minute", 60.0, 30)]
    starts: dict[str, list[float]] = {b.key: [] for b in buckets}
    rng = random.Random(7)

    async def caller(engine) -> None:
        for _ in range(6):
            (got,) = await reserve(engine, buckets)
            for key, held, window in got.places:
                starts[key.partition("#")[0]].append(held - window - IN_FLIGHT)
            await asyncio.sleep(rng.random() * 0.05)
            if rng.random() < 0.8:
                await got.release()

    try:
        await asyncio.gather(*(caller(engines[i % 2]) for i in range(6)))
    finally:
        for engine in engines:
            await engine.dispose()
    for bucket in buckets:
        times = sorted(starts[bucket.key])
        assert len(times) == 36
        gaps = [b - a for a, b in zip(times, times[bucket.limit :], strict=False)]
        assert min(gaps) >= bucket.window - 1e-6, (bucket.key, min(gaps))


async def test_missing_places_are_made_and_idle_buckets_forgotten(pg_url):
    """A ring an earlier version made lazily (a head row and one place) is completed when
    it runs short; `prune` forgets a bucket only when every place of it is idle."""
    engine = await _engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO rate_limits (key, tat) VALUES ('app:second', 7), ('app:second#0', 0)"
                )
            )
        first = await reserve(engine, [SECOND], 2)
        assert len(first) == 2 and all(r.wait == 0.0 for r in first)
        async with engine.begin() as conn:
            old = "extract(epoch FROM clock_timestamp()) - 7200"
            await conn.execute(text(f"INSERT INTO rate_limits VALUES ('idle#0', {old})"))
            await conn.execute(text(f"INSERT INTO rate_limits VALUES ('idle#1', {old})"))
            await conn.execute(
                text(f"UPDATE rate_limits SET tat = {old} WHERE key = 'app:second#0'")
            )
        assert await prune(engine) == 3  # both idle places and the old head row
        async with engine.connect() as conn:
            keys = (await conn.execute(text("SELECT key FROM rate_limits ORDER BY key"))).scalars()
            assert list(keys) == ["app:second#0", "app:second#1"]
    finally:
        await engine.dispose()
