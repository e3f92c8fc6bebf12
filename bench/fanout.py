"""Reminder fan-out through the real pipeline against Feishu's documented send limits.

    python -m bench.fanout [--members 2000] [--reminders 10000]

Each of `members` planners has `reminders / members` tasks, due on consecutive working
days. The scheduler plans one round per day (`bot.jobs.reminders.send_round`: markers + one
card per person, in the outbox); then the outbox worker sends everything through the real
FeishuGateway (lark-oapi, our sliding-window limiter, 429 / 230020 handling) to the local
Feishu emulator, which runs in its own process with its limits on (50/s and 1000/min per
app and API, 5/s per receiver). The ladder is reduced to its "due today" step so that every
reminder is exactly one card: sends = reminders.

Reported: planning time per round; the send phase's wall time against the physical floor
(the earliest the last send can start under 50/s and 1000/min, plus nothing), 429 and
230020 answers, the highest send count the emulator saw in any 1 s and any 60 s, duplicate
uuids, and peak RSS of this process (the bot side, lark-oapi included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TZ = ZoneInfo("Asia/Shanghai")
APP_ID, APP_SECRET = "cli_test", "secret_test"
FIRST_DAY = date(2026, 12, 7)


class BenchClock:
    """An injected clock that can jump (planning) and then runs in real time (sending)."""

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        self._base, self._t0 = at.astimezone(UTC), time.monotonic()

    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._t0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def start_emulator(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.devtools.emulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "emulator on" not in line:
        raise RuntimeError(f"emulator did not start: {line}")
    return proc


def emulator_messages(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/messages", timeout=120) as r:
        return json.loads(r.read())["items"]


async def run(args) -> dict:
    from sqlalchemy import func
    from sqlmodel import select

    from bot.app import BotApp
    from bot.config import Settings
    from bot.domain.policy import ReminderStep, load_policy
    from bot.domain.workcalendar import WorkCalendar
    from bot.feishu.gateway import FeishuGateway
    from bot.jobs.reminders import send_round
    from storage.models import Member, OutboundMessage, Task
    from storage.queue import insert_ignore

    port = free_port()
    emu = start_emulator(port)
    tmp = Path(tempfile.mkdtemp(prefix="dutybot-fanout-"))
    settings = Settings(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        verification_token="v",
        domain=f"http://127.0.0.1:{port}",
        database_url=f"sqlite+aiosqlite:///{tmp / 'fanout.db'}",
        weekly_digest="off",
        monthly_digest="off",
    )
    calendar = WorkCalendar()
    policy = replace(
        load_policy(), reminders=(ReminderStep("due_today", 0, ("assignee",)),)
    )  # one reminder = one card
    days = [FIRST_DAY]
    rounds = max(1, args.reminders // args.members)
    while len(days) < rounds:
        days.append(calendar.add_workdays(days[-1], 1))
    clock = BenchClock(datetime.combine(days[0], datetime.min.time(), TZ))
    from bot.feishu.limits import SendLimits

    defaults = SendLimits()
    limits = SendLimits(
        per_second=args.per_second or defaults.app_second.limit,
        per_minute=args.per_minute or defaults.app_minute.limit,
    )
    gateway = FeishuGateway(
        settings.domain,
        APP_ID,
        APP_SECRET,
        clock,
        limits=limits,
    )
    answers = {"http_429": 0, "code_230020": 0}
    create = gateway.client.im.v1.message.acreate

    async def counting_create(req, option=None):
        resp = await create(req, option)
        raw = resp.raw
        if raw is not None and raw.status_code == 429:
            answers["http_429"] += 1
        elif raw is not None and b"230020" in (raw.content or b"")[:200]:
            answers["code_230020"] += 1
        return resp

    gateway.client.im.v1.message.acreate = counting_create
    bot = BotApp(settings=settings, clock=clock, policy=policy, calendar=calendar, gateway=gateway)
    result: dict = {
        "members": args.members,
        "rounds": rounds,
    }
    try:
        await bot.prepare()
        now = clock.now()
        ids = [f"ou_bench{i:06d}" for i in range(args.members)]
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
        result["reminders"] = len(rows)

        plan_times = []
        for day in days:  # the morning round of each day
            clock.set(datetime.combine(day, datetime.min.time(), TZ).replace(hour=9, minute=30))
            t0 = time.perf_counter()
            stats = await send_round(bot.sessions, bot.services, clock.now())
            plan_times.append(time.perf_counter() - t0)
            assert stats.cards == args.members, stats
        result["plan_s_per_round"] = sum(plan_times) / len(plan_times)
        async with bot.sessions() as s:
            queued = (await s.exec(select(func.count()).select_from(OutboundMessage))).one()
        result["queued"] = queued

        await bot.connect_feishu()
        t0 = time.perf_counter()
        while True:
            sent = await bot.outbox.process_once()
            if sent:
                continue
            async with bot.sessions() as s:
                left = (
                    await s.exec(
                        select(func.count())
                        .select_from(OutboundMessage)
                        .where(OutboundMessage.status.in_(("pending", "processing")))
                    )
                ).one()
            if not left:
                break
            await asyncio.sleep(0.2)
        result["send_wall_s"] = time.perf_counter() - t0
        result["gateway"] = dict(gateway.stats)
        result["answers"] = answers
        async with bot.sessions() as s:
            statuses = dict(
                (
                    await s.exec(
                        select(OutboundMessage.status, func.count()).group_by(
                            OutboundMessage.status
                        )
                    )
                ).all()
            )
        result["outbox"] = statuses
    finally:
        await bot.stop()
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        items = emulator_messages(port)
    finally:
        emu.terminate()
        emu.wait(10)
    times = [int(m["create_time"]) / 1000 for m in items]
    result["client_limits"] = f"{limits.app_second.limit}/s, {limits.app_minute.limit}/min"
    result["sends"] = len(items)
    # the same card twice to one chat would be a duplicate (uuids are de-duplicated by Feishu)
    result["distinct"] = len({(m["chat_id"], json.dumps(m["card"], sort_keys=True)) for m in items})
    result["max_1s"] = max_in_window(times, 1.0)
    result["max_60s"] = max_in_window(times, 60.0)
    result["emulator_span_s"] = (max(times) - min(times)) if times else 0.0
    result["floor_s"] = floor_seconds(len(items))
    return result


def render(r: dict) -> str:
    ratio = r["emulator_span_s"] / r["floor_s"] if r["floor_s"] else float("nan")
    g = r["gateway"]
    return "\n".join(
        [
            "| members | reminders (= sends) | rounds | plan / round | first→last send | floor | ratio | 429 + 230020 | retries | max in 1 s / 60 s | duplicates | peak RSS |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {r['members']:,} | {r['sends']:,} | {r['rounds']} | {r['plan_s_per_round']:.1f} s "
            f"| {r['emulator_span_s']:.1f} s | {r['floor_s']:.1f} s | {ratio:.3f} "
            f"| {r['answers']['http_429']} + {r['answers']['code_230020']} | {g['retries']} | {r['max_1s']} / {r['max_60s']} "
            f"| {r['sends'] - r['distinct']} | {r['peak_rss_mb']:.0f} MB |",
            "",
            f"send phase wall time (worker start to empty outbox): {r['send_wall_s']:.1f} s; "
            f"outbox: {r['outbox']}; gateway: {g}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument(
        "--per-second", type=int, help="client limiter per app (default: the bot's)"
    )
    parser.add_argument(
        "--per-minute", type=int, help="client limiter per app (default: the bot's)"
    )
    args = parser.parse_args()
    if args.reminders % args.members:
        parser.error("--reminders must be a multiple of --members (whole rounds)")
    result = asyncio.run(run(args))
    print(render(result))
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
