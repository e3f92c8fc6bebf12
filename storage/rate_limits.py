"""Rate limits shared by every replica on PostgreSQL: sliding windows in `rate_limits`.

A bucket allows `limit` calls in any `window` seconds, exactly as Feishu counts (a token
bucket paced at the average rate would lose the burst Feishu allows: a 1,500-message
fan-out at 975/min would take 90 s instead of the 20 s + one minute the windows allow).
Each bucket is a ring of `limit` places (rows `key#0` … `key#limit-1`, `tat` = when the
place frees). A call takes one place of every bucket it counts against, in one statement:
it may start when every one of its places is free, and each place then frees no sooner
than `window` after that start; two calls on one place are `window` apart, so no window
ever holds more than `limit` calls, whichever places the calls took. While the call is in
flight its places are held `IN_FLIGHT` longer; `Reservation.release()` then sets them to
`window` after the answer (Feishu counts a call when it arrives: bot.feishu.limits).

Times are the database's clock (`clock_timestamp()`), the one clock all replicas share.
SQLite runs one replica, so it has no use for this."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Seconds a place is held beyond its window until the call's answer is in (a call takes
# well under a second to reach Feishu). A call takes the places that free first, so it
# waits behind a call still in flight only when every place is taken.
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
        (it keeps its own time). Never sooner than `window` after the call's start: a call
        given up before its start (cancelled) took its places after a call that may still
        be in flight. One statement, committed on its own."""
        places = [p for r in (self, *others) for p in r.places]
        if not places:
            return
        values = ", ".join(
            f"(:k{i}, CAST(:t{i} AS float8), CAST(:w{i} AS float8))" for i in range(len(places))
        )
        params: dict = {"f": IN_FLIGHT}
        for i, (key, held, window) in enumerate(places):
            params |= {f"k{i}": key, f"t{i}": held, f"w{i}": window}
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(
                text(
                    "UPDATE rate_limits AS r "
                    "SET tat = greatest(extract(epoch from clock_timestamp()) + v.w, v.tat - :f) "
                    f"FROM (VALUES {values}) AS v(key, tat, w) "
                    "WHERE r.key = v.key AND r.tat = v.tat"
                ),
                params,
            )


# One statement, one round trip, autocommit: each bucket's `count` earliest-freeing places
# that no other transaction holds (SKIP LOCKED: replicas never wait for each other's
# locks, so nothing is held across a client's round trips), the i-th of every bucket
# paired into call i, which starts when the last of its places frees; those places are
# then held until `window + IN_FLIGHT` after that start.
_TAKE = text(
    """
WITH now AS MATERIALIZED (SELECT extract(epoch FROM clock_timestamp()) AS t),
b AS (
    SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:wins AS float8[]), CAST(:lims AS int[]))
    AS b(bucket, win, lim)
),
picked AS MATERIALIZED (
    SELECT b.win, p.key, p.tat,
           row_number() OVER (PARTITION BY b.bucket ORDER BY p.tat, p.key) AS i
    FROM b CROSS JOIN LATERAL (
        SELECT r.key, r.tat FROM (
            SELECT key, tat FROM rate_limits
            WHERE key IN (SELECT b.bucket || '#' || g FROM generate_series(0, b.lim - 1) AS g)
            ORDER BY tat LIMIT :candidates
        ) AS c JOIN rate_limits AS r ON r.key = c.key AND r.tat = c.tat
        ORDER BY r.tat LIMIT :count
        FOR UPDATE OF r SKIP LOCKED
    ) AS p
),
calls AS (
    SELECT i, greatest(max(tat), (SELECT t FROM now)) AS start
    FROM picked GROUP BY i HAVING count(*) = :buckets
),
taken AS (
    UPDATE rate_limits AS r SET tat = c.start + p.win + :in_flight
    FROM picked AS p JOIN calls AS c USING (i)
    WHERE r.key = p.key
    RETURNING p.i, r.key, r.tat, p.win, c.start
)
SELECT taken.*, (SELECT t FROM now) AS now FROM taken ORDER BY taken.i
"""
)

# A bucket's places, made on its first use (or after `prune`); rows another version made
# lazily are completed too.
_MAKE = text(
    """
INSERT INTO rate_limits (key, tat)
SELECT b.bucket || '#' || g, 0
FROM unnest(CAST(:keys AS text[]), CAST(:lims AS int[])) AS b(bucket, lim),
     generate_series(0, b.lim - 1) AS g
ON CONFLICT (key) DO NOTHING
"""
)

_PRUNE = text(
    """
WITH idle AS MATERIALIZED (SELECT extract(epoch FROM clock_timestamp()) - :idle AS since)
DELETE FROM rate_limits
WHERE tat < (SELECT since FROM idle) AND (
    position('#' IN key) = 0 OR split_part(key, '#', 1) IN (
        SELECT split_part(key, '#', 1) FROM rate_limits GROUP BY 1
        HAVING max(tat) < (SELECT since FROM idle)
    )
)
"""
)

LOCKED_RETRY = 0.01  # seconds: every free place was locked by another reserve just now


async def reserve(
    engine: AsyncEngine, buckets: Sequence[Bucket], count: int = 1
) -> list[Reservation]:
    """Take places for up to `count` calls in every bucket (at least one; fewer only when
    other replicas hold the rest at this instant); each reservation says how long to wait
    before its call, and is released when the call's answer is in.

    Any place will do: a place's calls start `window` apart, so `limit` places never admit
    more than `limit` calls in a window, whichever place each call takes. So a call takes
    the places that free first: never one whose call is still in flight (held until
    `window + IN_FLIGHT` after its start) while another is free or frees sooner."""
    by_key = {b.key: b for b in buckets}
    params = {
        "keys": list(by_key),
        "wins": [b.window for b in by_key.values()],
        "lims": [b.limit for b in by_key.values()],
        "count": min(count, *(b.limit for b in by_key.values())),
        "candidates": 2 * count + 16,
        "buckets": len(by_key),
        "in_flight": IN_FLIGHT,
    }
    rows: list = []
    made = False
    for _ in range(1000):
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (await conn.execute(_TAKE, params)).all()
            rows += [(len(rows) // len(by_key) + i, *rest) for i, *rest in got]
            params["count"] -= len(got) // len(by_key)
            if params["count"] and not made:
                # first use, or places missing: make them, then take the rest at once
                await conn.execute(_MAKE, {"keys": params["keys"], "lims": params["lims"]})
                made = True
                continue
        if rows:
            break
        await asyncio.sleep(LOCKED_RETRY)
    else:
        raise TimeoutError("shared rate limits: every place stayed locked")
    taken: dict[int, Reservation] = {}
    for i, key, held, window, start, now in rows:
        r = taken.setdefault(i, Reservation(engine, max(0.0, float(start) - float(now))))
        r.places.append((key, float(held), float(window)))
    return [taken[i] for i in sorted(taken)]


async def prune(engine: AsyncEngine, idle_seconds: float = 3600.0) -> int:
    """Forget buckets idle for an hour (one bucket per receiver would otherwise pile up):
    all of a bucket's places at once, so a ring in use never loses the places it has been
    keeping free (head rows of an earlier version, a small number, go too). A place taken
    meanwhile stays (its row is checked again); `reserve` makes missing places anew."""
    async with engine.begin() as conn:
        result = await conn.execute(_PRUNE, {"idle": idle_seconds})
    return result.rowcount or 0
