"""Reminder fan-out through the real pipeline against Feishu's documented send limits.

    python -m bench.fanout [--members 2000] [--reminders 10000] [--quick]
                           [--probe] [--probe-rate 5] [--replicas 2 --pg URL]

Each of `members` planners has `reminders / members` tasks, due on consecutive working
days. The scheduler plans one round per day (`bot.jobs.reminders.send_round`: markers + one
card per person, in the outbox); then the bot, as `dutybot run` runs it (BotApp with its
inbox and outbox workers, the webhook on a port), sends everything through the real
FeishuGateway (lark-oapi, our sliding-window limiter, 429 / 230020 handling) to the local
Feishu emulator, which runs in its own process with its limits on (50/s and 1000/min per
app and API, 5/s per receiver). The ladder is reduced to its "due today" step so that every
reminder is exactly one card: sends = reminders. (Rounds are planned day by day, then all
of them are sent at once from the last day's morning: the earlier days' rows would have
expired by then, so their expiry is moved past the run.)

`--probe`: while the fan-out is being sent, people write "待办" to the bot in their private
chat (signed, encrypted `im.message.receive_v1` webhook requests, `--probe-rate` a second,
from 20 members who get no reminders): the webhook's answer time and the time from sending
until the emulator has the bot's answer card in that chat.

`--replicas 2 --pg URL`: PostgreSQL (a throwaway database on that server), and a second bot
process on the same database with its own outbox worker: both drain the one outbox and share
the limits through the database (storage.rate_limits).

Reported: the send phase's span at the emulator (first to last message admitted) against
the physical floor (the earliest the last of that many sends can start under 50/s and
1000/min), 429 and 230020 answers (counted by the emulator), the highest count the emulator
admitted in any 1 s and any 60 s, duplicates, and peak RSS of this process (the bot side,
lark-oapi included). The last line is ``RESULT fanout_ratio=… …``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    create_pg_database,
    drop_pg_database,
    free_port,
    pct,
    run_emulator,
    start_emulator_process,
)
from tests import feishu_events as fe  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2026, 12, 7)
PROBE_PEOPLE = 20
PROBE_PREFIX = "oc_p2p_ou_probe"


class BenchClock:
    """An injected clock that can jump (planning) and then runs in real time (sending).
    Wall-clock based, so a second process can run the same clock."""

    def __init__(self, at: datetime, t0: float | None = None) -> None:
        self.set(at, t0)

    def set(self, at: datetime, t0: float | None = None) -> None:
        self._base, self._t0 = at.astimezone(UTC), time.time() if t0 is None else t0

    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.time() - self._t0)


def floor_seconds(n: int, per_second: int = 50, per_minute: int = 1000) -> float:
    """When the n-th send can start at the earliest under both sliding windows."""
    starts: list[float] = []
    for i in range(n):
        t = 0.0
        if i >= per_second:
            t = max(t, starts[i - per_second] + 1.0)
        if i >= per_minute:
            t = max(t, starts[i - per_minute] + 60.0)
        starts.append(t)
    return starts[-1] if starts else 0.0


def max_in_window(times: list[float], span: float) -> int:
    best, window = 0, deque()
    for t in sorted(times):
        window.append(t)
        while window[0] <= t - span:
            window.popleft()
        best = max(best, len(window))
    return best


def serve_emulator(port: int) -> None:
    """The emulator in its own process, limits on. Prints `MSG <create_time> <chat>` for
    every message to a probe chat as it is stored; on `stats` (stdin) prints `STATS {json}`:
    the emulator's counters and every admitted message's time, chat and content hash."""
    emu = run_emulator(port, limits=True)
    store = emu._store  # noqa: SLF001 - the bench reads the emulator's records directly

    def watch() -> None:
        seen = 0
        while True:
            with store.changed:
                store.changed.wait_for(lambda n=seen: len(store.messages) > n, 1.0)
                new = store.messages[seen:]
                seen = len(store.messages)
            for m in new:
                if (m.receive_id or "").startswith(PROBE_PREFIX):
                    print(f"MSG {m.create_time:.6f} {m.receive_id}", flush=True)

    threading.Thread(target=watch, daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "stats":
            with store.lock:
                sent = [
                    (m.create_time, m.receive_id, hash((m.chat_id, m.raw_content)))
                    for m in store.messages
                    if not m.incoming
                ]
                stats = dict(store.stats)
            print("STATS " + json.dumps({"stats": stats, "sent": sent}), flush=True)
    emu.stop()


class Emulator:
    """The emulator's process seen from the bench: probe answers as they arrive, stats."""

    def __init__(self) -> None:
        self.proc, self.url = start_emulator_process("bench.fanout:serve_emulator", stdin=True)
        self.answers: dict[str, list[float]] = defaultdict(list)  # chat -> create times
        self._stats: dict | None = None
        self._got_stats = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("MSG "):
                _, at, chat = line.split()
                self.answers[chat].append(float(at))
            elif line.startswith("STATS "):
                self._stats = json.loads(line[6:])
                self._got_stats.set()

    def stats(self) -> dict:
        self._got_stats.clear()
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        if not self._got_stats.wait(60):
            raise RuntimeError("the emulator did not answer `stats`")
        return self._stats

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the bot -------------------------------------------------------------------------------


def bench_policy():
    from bot.domain.policy import ReminderStep, load_policy

    # one reminder = one card
    return replace(load_policy(), reminders=(ReminderStep("due_today", 0, ("assignee",)),))


def make_bot(database_url: str, emu_url: str, clock: BenchClock, limits_args: dict):
    from bot.app import BotApp
    from bot.config import Settings
    from bot.domain.workcalendar import WorkCalendar
    from bot.feishu.gateway import FeishuGateway
    from bot.feishu.limits import SendLimits

    settings = Settings(
        app_id=fe.APP_ID,
        app_secret=fe.APP_SECRET,
        verification_token=fe.VERIFICATION_TOKEN,
        encrypt_key=fe.ENCRYPT_KEY,
        domain=emu_url,
        database_url=database_url,
        weekly_digest="off",
        monthly_digest="off",
    )
    limits = SendLimits(**{k: v for k, v in limits_args.items() if v})
    gateway = FeishuGateway(settings.domain, fe.APP_ID, fe.APP_SECRET, clock, limits=limits)
    return BotApp(
        settings=settings,
        clock=clock,
        policy=bench_policy(),
        calendar=WorkCalendar(),
        gateway=gateway,
    )


def serve_replica(spec: str) -> None:
    """Another bot process on the same database (`--replicas`): its outbox and inbox
    workers run from `go` (stdin) until `stop`; then it prints its gateway's stats."""
    from bot.fast import run as fast_run

    fast_run(_replica(json.loads(spec)))


async def _replica(spec: dict) -> None:
    clock = BenchClock(datetime.fromisoformat(spec["at"]), spec["t0"])
    bot = make_bot(spec["url"], spec["emu"], clock, spec["limits"])
    loop = asyncio.get_running_loop()
    await bot.connect_feishu()
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # go
    bot.start_workers()
    await loop.run_in_executor(None, sys.stdin.readline)  # stop
    await bot.stop()
    print("REPLICA " + json.dumps(bot.gateway.stats), flush=True)


async def seed(bot, ids: list[str], days: list[date], clock: BenchClock) -> int:
    from storage.models import Member, Task
    from storage.queue import insert_ignore

    now = clock.now()
    async with bot.sessions() as s:
        for i in range(0, len(ids), 500):
            await insert_ignore(
                s,
                Member,
                [
                    {
                        "open_id": oid,
                        "name": f"策划{i + j}",
                        "role_key": "planner",
                        "is_admin": False,
                        "active": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for j, oid in enumerate(ids[i : i + 500])
                ],
                "open_id",
            )
        rows = [
            {
                "duty_key": "planner.preparation",
                "assignee_open_id": oid,
                "period_key": f"bench:{r}",
                "due_at": datetime.combine(day, datetime.min.time(), TZ).replace(hour=18),
                "status": "open",
                "created_at": now,
                "updated_at": now,
            }
            for r, day in enumerate(days)
            for oid in ids
        ]
        for i in range(0, len(rows), 500):
            await insert_ignore(
                s, Task, rows[i : i + 500], ["duty_key", "assignee_open_id", "period_key"]
            )
        await s.commit()
    return len(rows)


async def outbox_left(bot, purpose: str | None = None) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from storage.models import OutboundMessage

    query = (
        select(func.count())
        .select_from(OutboundMessage)
        .where(OutboundMessage.status.in_(("pending", "processing")))
    )
    if purpose:
        query = query.where(OutboundMessage.purpose == purpose)
    async with bot.sessions() as s:
        return (await s.exec(query)).one()


class Probe:
    """ "待办" from people in their private chats, at `rate` a second, through the webhook."""

    def __init__(self, hook: str, clock: BenchClock, emu: Emulator, rate: float) -> None:
        self.hook, self.clock, self.emu, self.rate = hook, clock, emu, rate
        self.people = [f"ou_probe{i:03d}" for i in range(PROBE_PEOPLE)]
        self.sent: dict[str, list[float]] = defaultdict(list)  # chat -> send times
        self.webhook: list[float] = []
        self.failed = 0
        self._tasks: set[asyncio.Task] = set()

    async def _one(self, http, who: str) -> None:
        req = fe.sign(fe.message("待办", who, self.clock.now()))
        chat = f"oc_p2p_{who}"
        t0 = time.time()
        self.sent[chat].append(t0)
        async with http.post(self.hook, data=req.body, headers=req.headers) as resp:
            await resp.read()
            ok = resp.status == 200
        self.webhook.append(time.time() - t0)
        self.failed += not ok

    async def run(self, http, until: asyncio.Event) -> None:
        n = 0
        start = time.monotonic()
        while not until.is_set():
            task = asyncio.create_task(self._one(http, self.people[n % len(self.people)]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, start + n / self.rate - time.monotonic()))
        if self._tasks:
            await asyncio.gather(*self._tasks)

    def answered(self) -> int:
        return sum(min(len(self.emu.answers[c]), len(ts)) for c, ts in self.sent.items())

    def latencies(self) -> list[float]:
        """Send → answer in the emulator, matched in order per chat (a chat's messages go
        out in order)."""
        out = []
        for chat, sent in self.sent.items():
            for t0, t1 in zip(sent, self.emu.answers[chat], strict=False):
                out.append(t1 - t0)
        return out


async def loop_lag(lags: list[float], until: asyncio.Event) -> None:
    """How late a 50 ms sleep wakes on the bot's event loop (time it could not answer)."""
    while not until.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append(time.perf_counter() - t0 - 0.05)


async def add_probe_people(bot, clock: BenchClock) -> None:
    """People who ask "what's due": members with two open tasks each, added after the
    rounds were planned (so they get no reminders of their own)."""
    from storage.models import Member, Task
    from storage.queue import insert_ignore

    now = clock.now()
    people = [f"ou_probe{i:03d}" for i in range(PROBE_PEOPLE)]
    async with bot.sessions() as s:
        member = {"role_key": "planner", "is_admin": False, "active": True}
        await insert_ignore(
            s,
            Member,
            [
                {"open_id": p, "name": f"提问{i}", **member, "created_at": now, "updated_at": now}
                for i, p in enumerate(people)
            ],
            "open_id",
        )
        await insert_ignore(
            s,
            Task,
            [
                {
                    "duty_key": "planner.preparation",
                    "assignee_open_id": p,
                    "period_key": f"probe:{k}",
                    "due_at": now + timedelta(days=k + 1),
                    "status": "open",
                    "created_at": now,
                    "updated_at": now,
                }
                for p in people
                for k in range(2)
            ],
            ["duty_key", "assignee_open_id", "period_key"],
        )
        await s.commit()


async def run(args) -> dict:
    import aiohttp
    from aiohttp import web
    from sqlalchemy import update

    from bot.domain.workcalendar import WorkCalendar
    from bot.jobs.reminders import send_round
    from bot.transport.webhook import make_web_app
    from storage import db
    from storage.models import OutboundMessage

    emu = Emulator()
    if args.pg:
        url = await create_pg_database(args.pg, "dutybot_fanout")
        engine = db.make_engine(url)
        await db.upgrade(engine)
        await engine.dispose()
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='dutybot-fanout-')) / 'f.db'}"
    calendar = WorkCalendar()
    days = [FIRST_DAY]
    rounds = max(1, args.reminders // args.members)
    while len(days) < rounds:
        days.append(calendar.add_workdays(days[-1], 1))
    clock = BenchClock(datetime.combine(days[0], datetime.min.time(), TZ))
    limits = {"per_second": args.per_second, "per_minute": args.per_minute}
    bot = make_bot(url, emu.url, clock, limits)
    result: dict = {"members": args.members, "rounds": rounds, "replicas": args.replicas}
    replicas: list[subprocess.Popen] = []
    runner = None
    try:
        await bot.prepare()
        ids = [f"ou_bench{i:06d}" for i in range(args.members)]
        result["reminders"] = await seed(bot, ids, days, clock)
        plan_times = []
        for day in days:  # the morning round of each day
            clock.set(datetime.combine(day, datetime.min.time(), TZ).replace(hour=9, minute=30))
            t0 = time.perf_counter()
            stats = await send_round(bot.sessions, bot.services, clock.now())
            plan_times.append(time.perf_counter() - t0)
            assert stats.cards == args.members, stats
        result["plan_s_per_round"] = sum(plan_times) / len(plan_times)
        result["queued"] = await outbox_left(bot)
        async with bot.sessions() as s:  # everything goes out from the last morning on
            await s.exec(update(OutboundMessage).values(expires_at=clock.now() + timedelta(days=1)))
            await s.commit()
        if args.probe:
            await add_probe_people(bot, clock)
        for _ in range(args.replicas - 1):
            spec = {"url": url, "emu": emu.url, "limits": limits}
            spec |= {"at": clock._base.isoformat(), "t0": clock._t0}  # noqa: SLF001
            proc = subprocess.Popen(  # noqa: ASYNC220 - before the clock starts
                [
                    sys.executable,
                    "-c",
                    f"from bench.fanout import serve_replica; serve_replica({json.dumps(spec)!r})",
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            replicas.append(proc)
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a replica did not start")
        await bot.connect_feishu()
        runner = web.AppRunner(make_web_app(bot), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        probe = Probe(f"http://127.0.0.1:{port}/feishu/events", clock, emu, args.probe_rate)
        bulk_done = asyncio.Event()
        cpu0, t0 = time.process_time(), time.perf_counter()
        for proc in replicas:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        bot.start_workers()
        lags: list[float] = []
        lagging = asyncio.create_task(loop_lag(lags, bulk_done))
        async with aiohttp.ClientSession() as http:
            probing = asyncio.create_task(probe.run(http, bulk_done)) if args.probe else None
            tick = time.monotonic()
            while left := await outbox_left(bot, "reminder"):
                if time.monotonic() - tick > 10:
                    tick = time.monotonic()
                    print(f"  {tick - t0:.0f} s: {left} reminders left", file=sys.stderr)
                await asyncio.sleep(0.5)
            bulk_done.set()
            result["bulk_wall_s"] = time.perf_counter() - t0
            await lagging
            result["loop_lag_p99_ms"] = pct(lags, 99) * 1000
            result["loop_lag_max_ms"] = max(lags, default=0) * 1000
            if probing is not None:
                await probing
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if probe.answered() >= len(probe.webhook) and not await outbox_left(bot):
                    break
                await asyncio.sleep(0.2)
        result["send_wall_s"] = time.perf_counter() - t0
        result["bot_cpu_s"] = time.process_time() - cpu0
        result["gateway"] = [dict(bot.gateway.stats)]
        result["limits"] = dict(bot.gateway.limits.stats)
        for proc in replicas:
            proc.stdin.write("stop\n")
            proc.stdin.flush()
            for line in proc.stdout:
                if line.startswith("REPLICA "):
                    result["gateway"].append(json.loads(line[8:]))
            proc.wait(30)
        replicas = []
        if args.probe:
            result["probe_sent"] = len(probe.webhook)
            result["probe_failed"] = probe.failed
            result["probe_answered"] = probe.answered()
            result["probe_webhook_s"] = probe.webhook
            result["probe_answer_s"] = probe.latencies()
        async with bot.sessions() as s:
            from sqlalchemy import func
            from sqlmodel import select

            query = select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
            result["outbox"] = dict((await s.exec(query)).all())
    finally:
        for proc in replicas:
            proc.kill()
        if runner is not None:
            await runner.cleanup()
        await bot.stop()
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        try:
            emulated = emu.stats()
        finally:
            emu.close()
            if args.pg:
                await drop_pg_database(args.pg, url)
    sent = emulated["sent"]
    bulk = [m for m in sent if not m[1].startswith(PROBE_PREFIX)]
    times = [m[0] for m in sent]
    result["sends"], result["bulk_sends"] = len(sent), len(bulk)
    result["duplicates"] = len(bulk) - len({m[2] for m in bulk})
    result["http_429"] = emulated["stats"]["http_429"]
    result["code_230020"] = emulated["stats"]["code_230020"]
    result["max_1s"] = max_in_window(times, 1.0)
    result["max_60s"] = max_in_window(times, 60.0)
    result["emulator_span_s"] = (max(times) - min(times)) if times else 0.0
    result["floor_s"] = floor_seconds(len(sent))
    result["ratio"] = result["emulator_span_s"] / result["floor_s"] if result["floor_s"] else 0
    return result


def render(r: dict) -> str:
    lines = [
        "| members | sends | rounds | replicas | plan / round | first→last send | floor | ratio "
        "| 429 + 230020 | max in 1 s / 60 s | duplicates | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['members']:,} | {r['sends']:,} | {r['rounds']} | {r['replicas']} "
        f"| {r['plan_s_per_round']:.1f} s | {r['emulator_span_s']:.1f} s | {r['floor_s']:.1f} s "
        f"| {r['ratio']:.3f} | {r['http_429']} + {r['code_230020']} "
        f"| {r['max_1s']} / {r['max_60s']} | {r['duplicates']} | {r['peak_rss_mb']:.0f} MB |",
        "",
        f"reminders sent in {r['bulk_wall_s']:.1f} s (workers started to none left), all in "
        f"{r['send_wall_s']:.1f} s; this process's CPU {r['bot_cpu_s']:.1f} s; "
        f"outbox: {r['outbox']}; gateways: {r['gateway']}; limiter: {r['limits']}; event "
        f"loop late p99 {r['loop_lag_p99_ms']:.0f} ms, max {r['loop_lag_max_ms']:.0f} ms",
    ]
    if "probe_sent" in r:
        hook = [x * 1000 for x in r["probe_webhook_s"]]
        answer = r["probe_answer_s"]
        lines.append(
            f"probe: {r['probe_sent']} 「待办」 during the fan-out, {r['probe_failed']} not 200, "
            f"{r['probe_answered']} answered; webhook p50 {pct(hook, 50):.0f} ms, p99 "
            f"{pct(hook, 99):.0f} ms; answer in the chat p50 {pct(answer, 50):.2f} s, p99 "
            f"{pct(answer, 99):.2f} s, max {max(answer, default=float('nan')):.2f} s"
        )
    return "\n".join(lines)


def result_line(r: dict, backend: str) -> str:
    fields = {
        "fanout_ratio": f"{r['ratio']:.3f}",
        "sends": r["sends"],
        "floor_s": f"{r['floor_s']:.1f}",
        "span_s": f"{r['emulator_span_s']:.1f}",
        "http_429": r["http_429"],
        "code_230020": r["code_230020"],
        "max_1s": r["max_1s"],
        "max_60s": r["max_60s"],
        "duplicates": r["duplicates"],
        "replicas": r["replicas"],
        "backend": backend,
    }
    if "probe_sent" in r:
        fields["probe_webhook_p50_ms"] = f"{pct(r['probe_webhook_s'], 50) * 1000:.0f}"
        fields["probe_webhook_p99_ms"] = f"{pct(r['probe_webhook_s'], 99) * 1000:.0f}"
        fields["probe_answer_p50_s"] = f"{pct(r['probe_answer_s'], 50):.2f}"
        fields["probe_answer_p99_s"] = f"{pct(r['probe_answer_s'], 99):.2f}"
        fields["probe_unanswered"] = r["probe_sent"] - r["probe_answered"]
    return "RESULT " + " ".join(f"{k}={v}" for k, v in fields.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="240 members, 1,200 reminders, with --probe (about a minute and a half)",
    )
    parser.add_argument("--probe", action="store_true", help="ask 「待办」 during the fan-out")
    parser.add_argument("--probe-rate", type=float, default=5.0, help="probe requests a second")
    parser.add_argument("--replicas", type=int, default=1, help="bot processes (needs --pg)")
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="PostgreSQL server instead of SQLite, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432",
    )
    parser.add_argument(
        "--per-second", type=int, help="client limiter per app (default: the bot's)"
    )
    parser.add_argument(
        "--per-minute", type=int, help="client limiter per app (default: the bot's)"
    )
    args = parser.parse_args()
    if args.quick:
        args.members, args.reminders, args.probe = 240, 1200, True
    if args.reminders % args.members:
        parser.error("--reminders must be a multiple of --members (whole rounds)")
    if args.replicas > 1 and not args.pg:
        parser.error("--replicas needs --pg (replicas share PostgreSQL)")
    import logging

    from bot.fast import run as fast_run

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    result = fast_run(run(args))
    print(render(result))
    print(f"load average: {os.getloadavg()}")
    print(result_line(result, "postgresql" if args.pg else "sqlite"))


if __name__ == "__main__":
    main()
