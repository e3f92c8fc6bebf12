"""Card clicks under load: 50 people submit a report form at once, then their approver's
50 approve / reject clicks arrive at once, each answered synchronously (Feishu's 3 s
callback budget) by the bot behind its real webhook.

    python -m bench.clicks [--people 50] [--quick] [--serial] [--profile FILE]

The Feishu emulator runs in its own process (limits off), as Feishu is not on the bot's
machine; in this one, the bot as `dutybot run` serves it (aiohttp on a port, inbox and
outbox workers running, uvloop when installed) on SQLite (or PostgreSQL: `--pg URL`), and
an aiohttp client sends signed, encrypted `card.action.trigger` callbacks, all
concurrently. The client (signing, encrypting, sending, reading the answers) runs in its
own process, as Feishu is not on the bot's machine either. Latency is measured there,
from sending the request to reading the whole answer (toast and card); the CPU seconds
the bot's process spent per click are printed too (the steadier figure on a shared
machine). The last line is
``RESULT click_p99_ms=… concurrency=…``.

`--serial` sends the same clicks one at a time instead (no queueing) and prints, per kind,
the SQL statements and the bot process's CPU per click (medians): the figures to compare
A/B on a shared machine. `--profile FILE` writes a cProfile of the bot's process during
the measured clicks (setup excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

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
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=TZ)  # a Friday afternoon: weekly reports are due
WEEKLY = "manager.weekly_progress"
FORM = {"completion_rate": "85", "risks": "物料延迟", "support_needed": "", "blockers_resolved": ""}


def serve_emulator(port: int) -> None:
    """The emulator's own process (limits off: the bot's answers are measured, not Feishu's)."""
    import threading

    run_emulator(port, limits=False)
    threading.Event().wait()


def start_emulator() -> tuple[subprocess.Popen, str]:
    return start_emulator_process("bench.clicks:serve_emulator")


def click(operator: str, value: dict, **kw) -> dict:
    """One card callback as Feishu would send it (signed by the client process)."""
    return fe.card_action(operator, value, NOW, **kw)


def serve_client() -> None:
    """The client's own process (see Client): Feishu is not on the bot's machine, so
    signing, encrypting and sending the callbacks, and reading the answers, is not the
    bot's CPU. Reads one JSON command a line, answers one JSON line."""
    try:
        from bot.fast import run as fast_run
    except ImportError:  # pragma: no cover
        fast_run = asyncio.run
    fast_run(_client_loop())


async def _client_loop() -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sys.stdout.write("ready\n")
        sys.stdout.flush()

        async def post(url: str, req: fe.SignedRequest) -> tuple[float, dict]:
            t0 = time.perf_counter()
            async with http.post(url, data=req.body, headers=req.headers) as resp:
                body = await resp.json()
                status = resp.status
            elapsed = time.perf_counter() - t0
            if status != 200 or (body.get("toast") or {}).get("type") not in ("success", "info"):
                return elapsed, {"error": f"{status} {body}"}
            return elapsed, body

        while line := await loop.run_in_executor(None, sys.stdin.readline):
            cmd = json.loads(line)
            # all at once: every request signed first, then all sent together
            signed = [fe.sign(p) for p in cmd["clicks"]]
            out = await asyncio.gather(*(post(cmd["url"], r) for r in signed))
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            sys.stdout.flush()


class Client:
    """The client process: sends clicks (all at once, or one) and returns (latency, answer)."""

    async def start(self) -> Client:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from bench.clicks import serve_client; serve_client()",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,
        )
        assert self.proc.stdout
        if await self.proc.stdout.readline() != b"ready\n":
            raise RuntimeError("the client process did not start")
        return self

    async def send(self, url: str, payloads: list[dict]) -> list[tuple[float, dict]]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((json.dumps({"url": url, "clicks": payloads}) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the client process ended")
        out = [(e, b) for e, b in json.loads(line)]
        for _, body in out:
            if "error" in body:
                raise RuntimeError(f"click answered {body['error']}")
        return out

    async def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        await self.proc.wait()


class Meter:
    """SQL statements executed by the bot's engine (a SQLAlchemy event listener, plus the
    writes queued for a connection's next hop and the driver calls, storage.driver_writes
    and driver_reads) and the profiler, if any, switched on around the measured clicks."""

    def __init__(self, engine, profile: str | None) -> None:
        from sqlalchemy import event

        self._statements = 0
        self.profiler = None
        if profile:
            import cProfile

            self.profiler = cProfile.Profile()

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(*_args) -> None:
            self._statements += 1

    @property
    def statements(self) -> int:
        from storage import driver_reads, sqlite_driver

        later = getattr(sqlite_driver, "ran_later", 0) + getattr(driver_reads, "calls", 0)
        return self._statements + later

    def __enter__(self) -> Meter:
        if self.profiler is not None:
            self.profiler.enable()
        return self

    def __exit__(self, *exc) -> None:
        if self.profiler is not None:
            self.profiler.disable()


async def measure(
    client: Client, url: str, clicks: list[dict], serial: bool, meter: Meter
) -> tuple[list, dict]:
    """Run the clicks (all at once, or one after the other) and what they cost the bot's
    process (the client's own CPU is its process's)."""
    t0, cpu0, n0 = time.perf_counter(), time.process_time(), meter.statements
    per_click: list[tuple[float, int]] = []
    with meter:
        if serial:
            answers = []
            for c in clicks:
                c_cpu, c_n = time.process_time(), meter.statements
                answers += await client.send(url, [c])
                per_click.append((time.process_time() - c_cpu, meter.statements - c_n))
        else:
            answers = await client.send(url, clicks)
    return answers, {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - cpu0,
        "statements": meter.statements - n0,
        "per_click": per_click,
    }


async def run(
    people: int, pg: str | None = None, serial: bool = False, profile: str | None = None
) -> dict:
    from aiohttp import web
    from sqlmodel import col, select

    from bot.app import build_app
    from bot.clock import FixedClock
    from bot.config import Settings
    from bot.transport.webhook import make_web_app
    from storage import db
    from storage.models import Member, OutboundMessage, Report, Task

    emu, emu_url = start_emulator()
    if pg:
        url = await create_pg_database(pg, "dutybot_clicks")
    else:
        tmp = Path(tempfile.mkdtemp(prefix="dutybot-clicks-"))
        url = f"sqlite+aiosqlite:///{tmp / 'clicks.db'}"
    settings = Settings(
        app_id=fe.APP_ID,
        app_secret=fe.APP_SECRET,
        verification_token=fe.VERIFICATION_TOKEN,
        encrypt_key=fe.ENCRYPT_KEY,
        domain=emu_url,
        database_url=url,
    )
    engine = db.make_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    bot = build_app(settings, clock=FixedClock(NOW.astimezone(UTC)))
    now = NOW.astimezone(UTC)
    async with bot.sessions() as s:
        s.add(
            Member(
                open_id="ou_director",
                name="总监",
                role_key="director",
                is_admin=True,
                created_at=now,
                updated_at=now,
            )
        )
        for i in range(people):
            s.add(
                Member(
                    open_id=f"ou_mgr{i:03d}",
                    name=f"经理{i}",
                    role_key="manager",
                    created_at=now,
                    updated_at=now,
                )
            )
        await s.commit()
    await bot.prepare()  # everyone's weekly report task
    await bot.connect_feishu()
    bot.start_workers()
    meter = Meter(bot.engine, profile)
    runner = web.AppRunner(make_web_app(bot), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    hook = f"http://127.0.0.1:{port}/feishu/events"
    out: dict = {}
    try:
        async with bot.sessions() as s:
            tasks = (await s.exec(select(Task).where(Task.duty_key == WEEKLY))).all()
        mine = {}
        for t in tasks:  # this week's task of each manager
            if t.assignee_open_id not in mine or t.due_at < mine[t.assignee_open_id].due_at:
                mine[t.assignee_open_id] = t
        client = await Client().start()
        try:
            submits = [
                click(
                    who,
                    {"a": "report.submit", "v": 1, "t": t.id, "l": "zh"},
                    message_id=f"om_form_{t.id}",
                    form_value=FORM,
                    name="report_submit",
                )
                for who, t in sorted(mine.items())
            ]
            submitted, out["submit_cost"] = await measure(client, hook, submits, serial, meter)
            out["submit_late"] = sum(late(b) for _, b in submitted)
            out["submit"] = [e for e, _ in submitted]
            # a submit answered "working on it" finishes in the background: wait for it
            deadline = time.monotonic() + 60
            while True:
                async with bot.sessions() as s:
                    reports = (await s.exec(select(Report))).all()
                if len(reports) >= len(submits) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            # An approver clicks a card they have received: the submits' cards go out first
            # (the outbox gives way to inline answers, so a backlog would be measured here).
            while time.monotonic() < deadline:
                async with bot.sessions() as s:
                    waiting = (
                        await s.exec(
                            select(OutboundMessage.id).where(
                                col(OutboundMessage.status).in_(("pending", "processing"))
                            )
                        )
                    ).all()
                if not waiting:
                    break
                await asyncio.sleep(0.2)
            decisions = []
            for i, r in enumerate(sorted(reports, key=lambda r: r.id)):
                base = {"v": 1, "r": r.id, "ver": r.version, "l": "zh"}
                if i % 2:
                    decisions.append(
                        click(
                            "ou_director",
                            {"a": "report.reject", **base},
                            message_id=f"om_appr_{r.id}",
                            form_value={"comment": "请补充数据"},
                            name="report_reject",
                        )
                    )
                else:
                    decisions.append(
                        click(
                            "ou_director",
                            {"a": "report.approve", **base},
                            message_id=f"om_appr_{r.id}",
                            form_value={"comment": ""},
                            name="report_approve",
                        )
                    )
            decided, out["decide_cost"] = await measure(client, hook, decisions, serial, meter)
            out["decide_late"] = sum(late(b) for _, b in decided)
            out["decide"] = [e for e, _ in decided]
            async with bot.sessions() as s:
                states = [r.status for r in (await s.exec(select(Report))).all()]
            out["approved"] = states.count("approved")
            out["rejected"] = states.count("rejected")
        finally:
            await client.close()
    finally:
        if meter.profiler is not None and profile:
            meter.profiler.dump_stats(profile)
        await runner.cleanup()
        await bot.stop()
        emu.kill()
        emu.wait()
        if pg:
            await drop_pg_database(pg, url)
    return out


def late(answer: dict) -> bool:
    """Answered "working on it" (the 2.5 s budget ran out; the card is updated later)."""
    return (answer.get("toast") or {}).get("type") == "info"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="the same 50 clicks (it is quick)")
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="PostgreSQL server instead of SQLite, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432",
    )
    parser.add_argument(
        "--serial", action="store_true", help="one click at a time: statements and CPU a click"
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile of the measured clicks")
    args = parser.parse_args()
    try:
        from bot.fast import run as fast_run
    except ImportError:  # pragma: no cover
        fast_run = asyncio.run
    r = fast_run(run(args.people, args.pg, args.serial, args.profile))
    every = r["submit"] + r["decide"]
    for name in ("submit", "decide"):
        xs = [x * 1000 for x in r[name]]
        cost = r[name + "_cost"]
        print(
            f"{name}: {len(xs)} {'serial' if args.serial else 'concurrent'} clicks, "
            f"p50 {statistics.median(xs):.0f} ms, "
            f"p99 {pct(xs, 99):.0f} ms, max {max(xs):.0f} ms, all answered in "
            f"{cost['wall_s']:.2f} s; bot process CPU {cost['cpu_s']:.2f} s "
            f"({cost['cpu_s'] / len(xs) * 1000:.1f} ms a click); "
            f"{cost['statements'] / len(xs):.1f} SQL statements a click; "
            f'{r[name + "_late"]} answered "working on it" (over the 2.5 s budget)'
        )
        if cost["per_click"]:
            cpu = statistics.median(c for c, _ in cost["per_click"]) * 1000
            n = statistics.median(k for _, k in cost["per_click"])
            print(f"{name}: one at a time, median {cpu:.1f} ms CPU and {n:g} statements a click")
    print(f"reports approved {r['approved']}, rejected {r['rejected']}")
    backend = "postgresql" if args.pg else "sqlite"
    print(
        f"RESULT click_p99_ms={pct([x * 1000 for x in every], 99):.0f} "
        f"concurrency={args.people} backend={backend}"
    )


if __name__ == "__main__":
    main()
