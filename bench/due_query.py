"""The two queries every minute of DutyBot's life depends on, at size.

    python -m bench.due_query [--members 10000] [--tasks 1000000] [--samples 2000]
                              [--pg postgres@127.0.0.1:5432 | --no-pg] [--quick] [--keep DIR]

- "what's due": one member's open tasks (``storage.tasks.list_open_tasks``), for a random
  member each time;
- "due now": what the tick reads (``storage.reminders.tasks_due_now``): undelivered tasks
  whose ``next_action_at`` has come.

Both are measured through the bot's own code (``make_engine``, a session per query, the
function the bot calls, rows or ORM objects built: p50 / p99 wall time and the mean CPU
time of the process per query, the driver's thread included) and as the bare SQL on the
driver, on SQLite and (when a server is reachable) PostgreSQL, with the query plan and the
due-now query once more without its index (what the index buys). Both databases are
loaded first and the generated rows freed before anything is timed (a million tuples in
this process would make every full garbage collection, and so the p99, the bench's own);
the collector's pauses during the bot-stack samples are reported.

Data: members spread over the seven roles; tasks due at 18:00 on days spread evenly over
the last 540 days and the next 60 (about one task per member per week). Past tasks are
mostly done (1 % still open, 10 % of the last ten days'), future ones mostly open; "now" is
Monday 2026-12-07 10:00 Asia/Shanghai. ``next_action_at`` is what the bot leaves behind
after the 09:30 round (``bot.domain.reminders``), closed tasks carry the "look again" value
every write leaves, and one open task in 500 was edited since the round (due now).

``--keep DIR`` builds the databases once and reuses them (loading a million tasks takes
minutes): the SQLite file goes under DIR, the PostgreSQL database is named after the size
and kept; both are brought to the shipped migration head before each run.

The last line is ``RESULT due_now_p99_ms=… whats_due_p99_ms=… backend=sqlite`` (PostgreSQL
figures follow as ``pg_…`` keys when a server answered), then ``load_avg=`` (the 1-minute
load average at the end: the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import pct  # noqa: E402
from bot.domain.policy import load_policy  # noqa: E402
from bot.domain.reminders import (  # noqa: E402
    GRACE_WORKDAYS,
    current_step,
    first_action_at,
    next_action_after,  # noqa: E402
)
from bot.domain.workcalendar import WorkCalendar  # noqa: E402
from storage import db  # noqa: E402
from storage.models import RECHECK  # noqa: E402
from storage.reminders import tasks_due_now  # noqa: E402
from storage.tasks import list_open_tasks  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=TZ)
ROLES = ("director", "manager", "planner", "brand", "digital", "research", "crm")
DUTIES = ("planner.preparation", "brand.faq", "digital.channel_report", "crm.feedback_summary")

WHATS_DUE_SQL = (
    "SELECT * FROM tasks WHERE assignee_open_id = {p} AND status IN ('open','submitted','rejected') "
    "ORDER BY due_at, id"
)
DUE_NOW_SQL = (
    "SELECT id, duty_key, assignee_open_id, activity_id, due_at, status, snoozed_until, "
    "next_action_at FROM tasks WHERE status IN ('open','rejected') AND next_action_at <= {p1}"
)
INDEX = "ix_tasks_status_next_action"


def status_for(due: datetime, rng: random.Random) -> str:
    r = rng.random()
    if due < NOW - timedelta(days=10):
        return (
            "open" if r < 0.01 else "cancelled" if r < 0.03 else "done" if r < 0.6 else "approved"
        )
    if due < NOW:
        return "open" if r < 0.08 else "rejected" if r < 0.10 else "done"
    return "open" if r < 0.9 else "submitted" if r < 0.95 else "done"


def ladder_state(policy, calendar):
    """next_action_at after the 09:30 round of NOW, for an undelivered task due on a day."""
    steps, local_now = policy.reminders, NOW
    today = local_now.date()
    oldest = calendar.add_workdays(today, -(max(steps[-1].offset, 0) + GRACE_WORKDAYS))
    cache = {}

    def value(due: datetime):
        day = due.astimezone(TZ).date()
        if day not in cache:
            if day < oldest:
                cache[day] = None
            elif current_step(steps, day, today, calendar) is None:
                cache[day] = first_action_at(policy, calendar, TZ, due)
            else:
                cache[day] = next_action_after(policy, calendar, day, local_now)
        return cache[day]

    return value


def generate(members: int, tasks: int, next_action, seed: int = 7):
    rng = random.Random(seed)
    ids = [f"ou_{i:06d}" for i in range(members)]
    member_rows = [(oid, f"member {i}", ROLES[i % len(ROLES)]) for i, oid in enumerate(ids)]
    start = (NOW - timedelta(days=540)).date()
    task_rows = []
    for i in range(tasks):
        day = start + timedelta(days=rng.randrange(600))
        due = datetime(day.year, day.month, day.day, 18, tzinfo=TZ).astimezone(UTC)
        status = status_for(due, rng)
        if status not in ("open", "rejected"):
            nxt = RECHECK  # what every write that is not the ladder's leaves behind
        elif rng.random() < 0.002:
            nxt = RECHECK  # edited since the last round: due now
        else:
            nxt = next_action(due)
        task_rows.append(
            (i + 1, DUTIES[i % len(DUTIES)], ids[rng.randrange(members)], f"b{i}", due, status, nxt)
        )
    return ids, member_rows, task_rows


def sqlite_ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def summary(name: str, samples: list[float], rows: list[int], cpu: float | None = None) -> dict:
    return {
        "query": name,
        "p50": statistics.median(samples) * 1000,
        "p99": pct(samples, 99) * 1000,
        "rows": statistics.median(rows),
        "cpu": None if cpu is None else cpu / len(samples) * 1000,
    }


class GcPauses:
    """The garbage collector's pauses while measuring (count, longest, total)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0

    def __call__(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._start)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_exc) -> None:
        gc.callbacks.remove(self)

    def text(self) -> str:
        if not self.pauses:
            return "none"
        return (
            f"{len(self.pauses)}, longest {max(self.pauses) * 1000:.2f} ms, "
            f"total {sum(self.pauses) * 1000:.1f} ms"
        )


async def measure_stack(url: str, ids: list[str], samples: int, now) -> tuple[list[dict], str]:
    """Through the bot's own code: engine, session, the bot's query functions."""
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    rng = random.Random(1)
    out = []
    try:
        for _ in range(50):  # warm the pool and caches
            async with sessions() as s:
                await list_open_tasks(s, rng.choice(ids))
                await tasks_due_now(s, now)
        with GcPauses() as pauses:
            times, counts = [], []
            cpu = time.process_time()
            for _ in range(samples):
                member = rng.choice(ids)
                t0 = time.perf_counter()
                async with sessions() as s:
                    rows = await list_open_tasks(s, member)
                times.append(time.perf_counter() - t0)
                counts.append(len(rows))
            cpu = time.process_time() - cpu
            out.append(summary("what's due (one member), bot stack", times, counts, cpu))
            times, counts = [], []
            cpu = time.process_time()
            for _ in range(max(50, samples // 4)):
                t0 = time.perf_counter()
                async with sessions() as s:
                    rows = await tasks_due_now(s, now)
                times.append(time.perf_counter() - t0)
                counts.append(len(rows))
            cpu = time.process_time() - cpu
            out.append(summary("due now (what the tick reads), bot stack", times, counts, cpu))
    finally:
        await engine.dispose()
    return out, pauses.text()


# -- SQLite ------------------------------------------------------------------------------


def sqlite_load(path: Path, member_rows, task_rows) -> float:
    t0 = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = sqlite_ts(datetime.now(UTC))
    conn.executemany(
        "INSERT INTO members (open_id, name, role_key, is_admin, active, created_at, updated_at) "
        "VALUES (?, ?, ?, 0, 1, ?, ?)",
        [(*m, now, now) for m in member_rows],
    )
    conn.executemany(
        "INSERT INTO tasks (id, duty_key, assignee_open_id, period_key, due_at, status, "
        "created_at, updated_at, next_action_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (i, d, a, p, sqlite_ts(due), st, now, now, sqlite_ts(nx) if nx else None)
            for i, d, a, p, due, st, nx in task_rows
        ),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return time.perf_counter() - t0


def sqlite_raw(path: Path, ids: list[str], samples: int, now) -> tuple[list[dict], dict]:
    conn = sqlite3.connect(path)
    rng = random.Random(2)
    q1 = WHATS_DUE_SQL.format(p="?")
    q2 = DUE_NOW_SQL.format(p1="?")
    bounds = (sqlite_ts(now),)
    times, counts = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        rows = conn.execute(q1, (rng.choice(ids),)).fetchall()
        times.append(time.perf_counter() - t0)
        counts.append(len(rows))
    out = [summary("what's due (one member), bare SQL", times, counts)]
    times, counts = [], []
    for _ in range(max(50, samples // 4)):
        t0 = time.perf_counter()
        rows = conn.execute(q2, bounds).fetchall()
        times.append(time.perf_counter() - t0)
        counts.append(len(rows))
    out.append(summary("due now, bare SQL", times, counts))
    plans = {
        "what's due": [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + q1, (ids[0],))],
        "due now": [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + q2, bounds)],
    }
    conn.close()
    # Dropped in a transaction rolled back after: no rebuild, and a kept database keeps it.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(f"DROP INDEX {INDEX}")
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        conn.execute(q2, bounds).fetchall()
        times.append(time.perf_counter() - t0)
    plans[f"due now without {INDEX}"] = [
        r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + q2, bounds)
    ]
    out.append(summary("due now, bare SQL, index dropped", times, [0]))
    conn.execute("ROLLBACK")
    conn.close()
    return out, plans


def _sqlite_file(keep: Path | None, tag: str) -> tuple[Path, Path | None]:
    """Where the SQLite database goes, and the file that marks a kept one as loaded."""
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="dutybot-due-")) / "due.db", None
    keep.mkdir(parents=True, exist_ok=True)
    path = keep / f"due-{tag}.db"
    return path, path.with_suffix(".loaded")


async def load_sqlite(member_rows, task_rows, keep: Path | None = None, tag: str = "") -> dict:
    """A SQLite database with the rows; with `keep`, the one built there before (rows None:
    only reuse, None if there is none) or a new one kept there."""
    path, done = _sqlite_file(keep, tag)
    url = f"sqlite+aiosqlite:///{path}"
    if done is not None and done.exists():
        engine = db.make_engine(url)
        await db.upgrade(engine)  # a migration added since the build runs on the kept rows
        await engine.dispose()
        return {"path": path, "url": url, "load_s": float(done.read_text())}
    if member_rows is None:
        return None
    path.unlink(missing_ok=True)
    engine = db.make_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    loaded = {"path": path, "url": url, "load_s": sqlite_load(path, member_rows, task_rows)}
    if done is not None:
        done.write_text(f"{loaded['load_s']:.1f}")
    return loaded


async def run_sqlite(loaded: dict, args, ids, now) -> dict:
    stack, pauses = await measure_stack(loaded["url"], ids, args.samples, now)
    raw, plans = sqlite_raw(loaded["path"], ids, args.samples, now)
    return {
        "name": "SQLite 3 (WAL)",
        "load_s": loaded["load_s"],
        "rows": stack + raw,
        "plans": plans,
        "gc": pauses,
    }


# -- PostgreSQL ---------------------------------------------------------------------------


async def load_pg(args, member_rows, task_rows, tag: str = "") -> dict | None:
    """A fresh database with the rows (None when no server answers); drop_pg removes it.
    With --keep: the database built before for this size (rows None: only reuse), or a new
    one that drop_pg keeps."""
    import asyncpg

    user, _, hostport = args.pg.partition("@")
    host, _, port = hostport.partition(":")
    try:
        admin = await asyncpg.connect(
            user=user, host=host, port=int(port or 5432), database="postgres", timeout=3
        )
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not reachable at {args.pg} ({exc}); skipped", file=sys.stderr)
        return None
    name = f"dutybot_bench_due_{tag}" if args.keep else f"dutybot_bench_{secrets.token_hex(4)}"
    url = f"postgresql+asyncpg://{user}@{host}:{port or 5432}/{name}"
    loaded = {"admin": admin, "name": name, "url": url, "keep": bool(args.keep)}
    if args.keep:  # the database's comment records a finished load
        done = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            name,
        )
        if done:
            engine = db.make_engine(url)
            await db.upgrade(engine)
            await engine.dispose()
            loaded["conn"] = await asyncpg.connect(
                user=user, host=host, port=int(port or 5432), database=name
            )
            loaded["load_s"] = float(done)
            return loaded
        if member_rows is None:
            await admin.close()
            return None
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = db.make_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    conn = await asyncpg.connect(user=user, host=host, port=int(port or 5432), database=name)
    loaded["conn"] = conn
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    await conn.copy_records_to_table(
        "members",
        records=[(m[0], m[1], m[2], False, True, now, now) for m in member_rows],
        columns=["open_id", "name", "role_key", "is_admin", "active", "created_at", "updated_at"],
    )
    await conn.copy_records_to_table(
        "tasks",
        records=[(i, d, a, p, due, st, now, now, nx) for i, d, a, p, due, st, nx in task_rows],
        columns=[
            "id",
            "duty_key",
            "assignee_open_id",
            "period_key",
            "due_at",
            "status",
            "created_at",
            "updated_at",
            "next_action_at",
        ],
    )
    await conn.execute("SELECT setval('tasks_id_seq', (SELECT max(id) FROM tasks))")
    await conn.execute("VACUUM ANALYZE tasks")
    await conn.execute("ANALYZE members")
    loaded["load_s"] = time.perf_counter() - t0
    if args.keep:
        await admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{loaded['load_s']:.1f}'")
    return loaded


async def drop_pg(loaded: dict) -> None:
    if "conn" in loaded:
        await loaded["conn"].close()
    admin = loaded["admin"]
    if not loaded["keep"]:
        await admin.execute(f'DROP DATABASE "{loaded["name"]}" WITH (FORCE)')
    await admin.close()


async def run_pg(loaded: dict, args, ids, at) -> dict:
    conn = loaded["conn"]
    stack, pauses = await measure_stack(loaded["url"], ids, args.samples, at)
    rng = random.Random(2)
    q1 = WHATS_DUE_SQL.format(p="$1")
    q2 = DUE_NOW_SQL.format(p1="$1")
    s1, s2 = await conn.prepare(q1), await conn.prepare(q2)
    times, counts = [], []
    for _ in range(args.samples):
        t0 = time.perf_counter()
        rows = await s1.fetch(rng.choice(ids))
        times.append(time.perf_counter() - t0)
        counts.append(len(rows))
    raw = [summary("what's due (one member), bare SQL", times, counts)]
    times, counts = [], []
    for _ in range(max(50, args.samples // 4)):
        t0 = time.perf_counter()
        rows = await s2.fetch(at)
        times.append(time.perf_counter() - t0)
        counts.append(len(rows))
    raw.append(summary("due now, bare SQL", times, counts))
    plans = {
        "what's due": [r[0] for r in await conn.fetch("EXPLAIN " + q1, ids[0])],
        "due now": [r[0] for r in await conn.fetch("EXPLAIN " + q2, at)],
    }
    tr = conn.transaction()  # rolled back after: the index is back without a rebuild
    await tr.start()
    await conn.execute(f"DROP INDEX {INDEX}")
    s3 = await conn.prepare(q2)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        await s3.fetch(at)
        times.append(time.perf_counter() - t0)
    plans[f"due now without {INDEX}"] = [r[0] for r in await conn.fetch("EXPLAIN " + q2, at)]
    raw.append(summary("due now, bare SQL, index dropped", times, [0]))
    await tr.rollback()
    version = await loaded["admin"].fetchval("SHOW server_version")
    return {
        "name": f"PostgreSQL {version}",
        "load_s": loaded["load_s"],
        "rows": stack + raw,
        "plans": plans,
        "gc": pauses,
    }


def render(result: dict, members: int, tasks: int) -> str:
    lines = [
        f"### {result['name']}: {members:,} members, {tasks:,} tasks (loaded in {result['load_s']:.0f} s)",
        "",
        "| query | rows returned (median) | p50 ms | p99 ms | CPU ms / query |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        rows = "—" if r["rows"] == 0 else f"{r['rows']:,.0f}"
        cpu = "" if r["cpu"] is None else f"{r['cpu']:.2f}"
        lines.append(f"| {r['query']} | {rows} | {r['p50']:.2f} | {r['p99']:.2f} | {cpu} |")
    lines.append("")
    lines.append(f"- garbage collections during the bot-stack samples: {result['gc']}")
    for name, plan in result["plans"].items():
        lines.append(f"- plan, {name}: `{' / '.join(p.strip() for p in plan)}`")
    return "\n".join(lines)


def result_line(results: list[dict]) -> str:
    def p99(result: dict, prefix: str) -> float:
        return next(r["p99"] for r in result["rows"] if r["query"].startswith(prefix))

    parts = []
    for r in results:
        pre = "pg_" if r["name"].startswith("PostgreSQL") else ""
        due = p99(r, "due now (what the tick reads), bot stack")
        whats = p99(r, "what's due (one member), bot stack")
        parts += [f"{pre}due_now_p99_ms={due:.2f}", f"{pre}whats_due_p99_ms={whats:.2f}"]
        if not pre:
            parts.append("backend=sqlite")
    parts.append(f"load_avg={os.getloadavg()[0]:.2f}")
    return "RESULT " + " ".join(parts)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument(
        "--pg", default=os.environ.get("DUTYBOT_TEST_PG", "postgres@127.0.0.1:5432")
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="2,000 members, 100,000 tasks, 400 samples"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="build the databases once, reuse them after"
    )
    args = parser.parse_args()
    if args.quick:
        args.members, args.tasks, args.samples = 2_000, 100_000, 400

    tag = f"{args.members}_{args.tasks}"
    ids = [f"ou_{i:06d}" for i in range(args.members)]  # as generate() names them
    sqlite_db = pg_db = None
    if args.keep:  # what was built before, if anything
        sqlite_db = await load_sqlite(None, None, args.keep, tag)
        pg_db = None if args.no_pg else await load_pg(args, None, None, tag)
    if sqlite_db is None or (pg_db is None and not args.no_pg):
        policy = load_policy()
        calendar = WorkCalendar()
        print(f"generating {args.members:,} members and {args.tasks:,} tasks…", file=sys.stderr)
        ids, member_rows, task_rows = generate(
            args.members, args.tasks, ladder_state(policy, calendar)
        )
        if sqlite_db is None:
            sqlite_db = await load_sqlite(member_rows, task_rows, args.keep, tag)
        if pg_db is None and not args.no_pg:
            pg_db = await load_pg(args, member_rows, task_rows, tag)
        del member_rows, task_rows
    now = NOW.astimezone(UTC)
    print(f"now = {NOW.isoformat()} (after the 09:30 round)", file=sys.stderr)
    gc.collect()
    try:
        results = [await run_sqlite(sqlite_db, args, ids, now)]
        if pg_db is not None:
            results.append(await run_pg(pg_db, args, ids, now))
    finally:
        if pg_db is not None:
            await drop_pg(pg_db)
    for r in results:
        print(render(r, args.members, args.tasks))
        print()
    print(result_line(results))


if __name__ == "__main__":
    asyncio.run(main())
