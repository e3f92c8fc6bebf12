"""Rate limits shared by every replica on PostgreSQL: GCRA buckets in `rate_limits`.

A bucket lets calls through `interval` seconds apart, `burst` of them back to back. Each
call reserves a start time in all its buckets at once, in one transaction that locks the
bucket rows (in key order, so replicas never deadlock): start = the earliest moment every
bucket allows, and each bucket's theoretical arrival time moves past it. The caller then
sleeps until its start. Times are the database's clock (`clock_timestamp()`), the one clock
all replicas share. SQLite runs one replica, so it has no use for this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import RateLimit


@dataclass(frozen=True)
class Bucket:
    key: str
    interval: float  # seconds between calls at the sustained rate
    burst: int = 1  # calls allowed back to back

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


_EPOCH_NOW = func.extract("epoch", func.clock_timestamp())


async def reserve(engine: AsyncEngine, buckets: Sequence[Bucket]) -> float:
    """Reserve one call in every bucket; returns how many seconds to wait before making it."""
    by_key = {b.key: b for b in buckets}
    keys = sorted(by_key)
    async with engine.begin() as conn:
        query = (
            select(RateLimit.key, RateLimit.tat, _EPOCH_NOW)
            .where(RateLimit.key.in_(keys))
            .order_by(RateLimit.key)
            .with_for_update()
        )
        rows = (await conn.execute(query)).all()
        if len(rows) < len(keys):  # first use of a bucket: create it, then lock it
            insert = postgresql.insert(RateLimit).values([{"key": k, "tat": 0.0} for k in keys])
            await conn.execute(insert.on_conflict_do_nothing(index_elements=["key"]))
            rows = (await conn.execute(query)).all()
        now = float(rows[0][2])
        tats = {key: float(tat) for key, tat, _ in rows}
        start = max([now] + [tats[k] - by_key[k].tolerance for k in keys])
        for k in keys:
            await conn.execute(
                update(RateLimit)
                .where(RateLimit.key == k)
                .values(tat=max(tats[k], start) + by_key[k].interval)
            )
    return max(0.0, start - now)


async def prune(engine: AsyncEngine, idle_seconds: float = 3600.0) -> int:
    """Forget buckets idle for an hour (one per receiver would otherwise pile up)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(RateLimit).where(RateLimit.tat < _EPOCH_NOW - idle_seconds)
        )
    return result.rowcount or 0
