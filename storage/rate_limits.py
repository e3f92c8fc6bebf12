"""Rate limits shared by every replica on PostgreSQL: sliding windows in `rate_limits`.

A bucket allows `limit` calls in any `window` seconds, exactly as Feishu counts (a token
bucket paced at the average rate would lose the burst Feishu allows: a 1,500-message
fan-out at 975/min would take 90 s instead of the 20 s + one minute the windows allow).
Each bucket is a ring of `limit` places (rows `key#0` … `key#limit-1`, `tat` = when the
place frees) and a head row (`key`, `tat` = the next place's number). A call takes the next
place of every bucket it counts against, in one transaction that locks the rows in key
order (replicas never deadlock): it may start when every one of its places is free, and
each place then frees no sooner than `window` after that start; two calls on one place are
`window` apart, so no window ever holds more than `limit` calls. While the call is in
flight its places are held `IN_FLIGHT` longer; `Reservation.release()` then sets them to
`window` after the answer (Feishu counts a call when it arrives: bot.feishu.limits).

Times are the database's clock (`clock_timestamp()`), the one clock all replicas share.
SQLite runs one replica, so it has no use for this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import RateLimit

# Seconds a place is held beyond its window until the call's answer is in. Replicas
# together keep more places taken (in flight, or taken ahead) than a second's ring holds,
# so a call often lands on a place whose call has not answered yet and starts `window +
# IN_FLIGHT` after it: at 10 s, 2 replicas sent 1,500 messages in 4.6 × the floor; at 1 s,
# 1.22 × (bench/fanout.py --replicas 2). A call takes well under a second to reach Feishu.
IN_FLIGHT = 1.0


@dataclass(frozen=True)
class Bucket:
    key: str
    window: float  # seconds
    limit: int  # calls in any window


@dataclass
class Reservation:
    """Places taken for one call: wait `wait` seconds, make the call, then `release()`."""

    engine: AsyncEngine
    wait: float
    places: list[tuple[str, float, float]] = field(default_factory=list)  # key, held, window

    async def release(self, *others: Reservation) -> None:
        """The call's answer is in: its places (and those of `others`, the same call's in
        other buckets) free `window` after now, unless another call has taken one since
        (it keeps its own time). One statement, committed on its own."""
        places = [p for r in (self, *others) for p in r.places]
        if not places:
            return
        values = ", ".join(
            f"(:k{i}, CAST(:t{i} AS float8), CAST(:w{i} AS float8))" for i in range(len(places))
        )
        params = {}
        for i, (key, held, window) in enumerate(places):
            params |= {f"k{i}": key, f"t{i}": held, f"w{i}": window}
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(
                text(
                    "UPDATE rate_limits AS r "
                    "SET tat = extract(epoch from clock_timestamp()) + v.w "
                    f"FROM (VALUES {values}) AS v(key, tat, w) "
                    "WHERE r.key = v.key AND r.tat = v.tat"
                ),
                params,
            )


_EPOCH_NOW = func.extract("epoch", func.clock_timestamp())


async def _lock(conn, keys: list[str]) -> dict[str, float]:
    """Lock these rows in key order (creating missing ones at 0); their `tat`, and the
    database's now under key ""."""
    query = (
        select(RateLimit.key, RateLimit.tat, _EPOCH_NOW)
        .where(RateLimit.key.in_(bindparam("keys", expanding=True)))
        .order_by(RateLimit.key)
        .with_for_update()
    )
    rows = (await conn.execute(query, {"keys": keys})).all()
    if len(rows) < len(keys):  # first use: create them, then lock them
        insert = postgresql.insert(RateLimit).values([{"key": k, "tat": 0.0} for k in keys])
        await conn.execute(insert.on_conflict_do_nothing(index_elements=["key"]))
        rows = (await conn.execute(query, {"keys": keys})).all()
    found = {key: float(tat) for key, tat, _ in rows}
    found[""] = float(rows[0][2])
    return found


async def reserve(
    engine: AsyncEngine, buckets: Sequence[Bucket], count: int = 1
) -> list[Reservation]:
    """Take places for `count` calls in every bucket (a replica takes a few at once: the
    head rows are every call's, and each transaction holds them a few round trips); each
    reservation says how long to wait before its call, and is released when the call's
    answer is in."""
    by_key = {b.key: b for b in buckets}
    async with engine.begin() as conn:
        heads = await _lock(conn, sorted(by_key))
        now = heads.pop("")
        place = {
            k: [f"{k}#{(int(heads[k]) + i) % b.limit}" for i in range(count)]
            for k, b in by_key.items()
        }
        frees = await _lock(conn, sorted({p for ps in place.values() for p in ps}))
        frees.pop("")
        taken = []
        for i in range(count):
            start = max([now, *(frees[place[k][i]] for k in by_key)])
            places = []
            for k, b in by_key.items():
                frees[place[k][i]] = held = start + b.window + IN_FLIGHT
                places.append((place[k][i], held, b.window))
            taken.append(Reservation(engine, max(0.0, start - now), places))
        values = [(k, heads[k] + count) for k in by_key] + list(frees.items())
        rows = ", ".join(f"(:k{i}, CAST(:t{i} AS float8))" for i in range(len(values)))
        params = {}
        for i, (key, tat) in enumerate(values):
            params |= {f"k{i}": key, f"t{i}": tat}
        await conn.execute(
            text(
                f"UPDATE rate_limits AS r SET tat = v.tat FROM (VALUES {rows}) AS v(key, tat) "
                "WHERE r.key = v.key"
            ),
            params,
        )
    return taken


async def prune(engine: AsyncEngine, idle_seconds: float = 3600.0) -> int:
    """Forget places idle for an hour (one bucket per receiver would otherwise pile up).
    A head row (a small number) goes too: a ring may start again at any place."""
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(RateLimit).where(RateLimit.tat < _EPOCH_NOW - idle_seconds)
        )
    return result.rowcount or 0
