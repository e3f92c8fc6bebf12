"""A scheduler tick at team size: what `dutybot tick` (or the in-process scheduler) costs.

    python -m bench.tick [--members 10000] [--quick]

A SQLite database with N members (one director, a manager per 20 people, the rest spread
over the five specialist roles, each with a manager) and their periodic tasks
(`BotApp.prepare`), plus one task per member due on Tuesday 2026-12-08 18:00, so that the
Monday 09:30 round sends everyone a heads-up. Measured in one process through the bot's
own code (`bot.jobs.scheduler.run_tick`, no Feishu: messages stay in the outbox):

- round: the tick at Monday 09:30 that plans the round (one card per person, with its
  markers, into the outbox): planning, not sending;
- idle: ticks at 09:31, 09:32, 09:33 with nothing due (median);
- cli: `python -m bot tick` as cron runs it, with Feishu credentials set and nothing to
  send: wall time and CPU time (median of 3 runs), whether lark-oapi was imported, and
  the first run's time (`cli_tick_cold_s`: Python compiling our modules, as right after a
  checkout; an installed package ships compiled);
- run: the resident memory of an idle `dutybot run` on the same database, talking to a
  local Feishu emulator (bot.devtools.emulator, in this process): it has fetched a token,
  asked who it is and sent a message, so the parts of lark-oapi a working bot loads are in.

The last line is ``RESULT tick_idle_s=… tick_round_plan_s=… members=… cli_tick_s=… …``.
The machine is shared: CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.jobs.scheduler import run_tick  # noqa: E402
from storage import db  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
SPECIALISTS = ("planner", "brand", "digital", "research", "crm")


def at(d: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 12, d, h, m, tzinfo=TZ).astimezone(UTC)


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def members(n: int) -> list[tuple]:
    rows = [("ou_d00000", "director", "director", None, 1)]
    managers = [f"ou_m{i:05d}" for i in range(max(1, n // 20))]
    rows += [(m, f"manager {m}", "manager", None, 0) for m in managers]
    for i in range(n - len(rows)):
        rows.append(
            (f"ou_s{i:05d}", f"member {i}", SPECIALISTS[i % 5], managers[i % len(managers)], 0)
        )
    return rows


def load(path: Path, people: list[tuple]) -> None:
    conn = sqlite3.connect(path)
    now = ts(at(6, 20))
    conn.executemany(
        "INSERT INTO members (open_id, name, role_key, manager_open_id, is_admin, active, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
        [(o, nm, r, mg, adm, now, now) for o, nm, r, mg, adm in people],
    )
    conn.commit()
    conn.close()


def add_round_tasks(path: Path, people: list[tuple], first_action: datetime) -> None:
    conn = sqlite3.connect(path)
    now, due = ts(at(6, 20)), ts(at(8, 18))
    conn.executemany(
        "INSERT INTO tasks (duty_key, assignee_open_id, period_key, due_at, status, "
        "created_at, updated_at, next_action_at) VALUES (?, ?, 'bench', ?, 'open', ?, ?, ?)",
        [("planner.preparation", o, due, now, now, ts(first_action)) for o, *_ in people],
    )
    conn.commit()
    conn.close()


async def timed_tick(bot, when: datetime):
    cpu0, t0 = time.process_time(), time.perf_counter()
    report = await run_tick(bot, when)
    return time.perf_counter() - t0, time.process_time() - cpu0, report


async def in_process(path: Path, n: int) -> dict:
    url = f"sqlite+aiosqlite:///{path}"
    settings = Settings(database_url=url)
    bot = build_app(settings, clock=FixedClock(at(6, 20)))
    out: dict = {}
    try:
        t0 = time.perf_counter()
        await bot.prepare()  # the periodic tasks of everyone
        out["prepare_s"] = time.perf_counter() - t0
        from bot.domain.reminders import first_action_at

        first = first_action_at(bot.policy, bot.calendar, TZ, at(8, 18))
        add_round_tasks(path, members(n), first)
        await run_tick(bot, at(7, 9))  # before hours: periodic tasks, calendar notice
        wall, cpu, report = await timed_tick(bot, at(7, 9, 30))
        out.update(round_s=wall, round_cpu_s=cpu, cards=report.reminders.cards)
        out["round_items"] = report.reminders.items
        idle = [await timed_tick(bot, at(7, 9, 31 + i)) for i in range(3)]
        assert all(r.reminders.cards == 0 for _, _, r in idle), "an idle tick sent something"
        out["idle_s"] = statistics.median(w for w, _, _ in idle)
        out["idle_cpu_s"] = statistics.median(c for _, c, _ in idle)
    finally:
        await bot.stop()
    return out


def cli_env(db_path: Path, pycache: Path, **extra: str) -> dict[str, str]:
    """The environment of a `dutybot` process as deployed: this checkout on the path, the
    database, Feishu credentials (the domain is never reached unless there is something to
    send), no settings of the caller's, and Python's bytecode cache on (in `pycache`: this
    machine sets PYTHONDONTWRITEBYTECODE, which would recompile our ~150 modules in every
    process, ~0.3 s that an installed package never pays)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FEISHU_", "DUTYBOT_"))
        and k not in ("DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONPYCACHEPREFIX=str(pycache),
        DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
        FEISHU_APP_ID="cli_bench",
        FEISHU_APP_SECRET="bench",
        FEISHU_VERIFICATION_TOKEN="bench",
        FEISHU_DOMAIN="http://127.0.0.1:9",
    )
    env.update(extra)
    return env


def timed_run(argv: list[str], env: dict[str, str], *, cwd: Path | None = None) -> tuple:
    """Run `python -m bot …` once: (wall s, CPU s of the child, completed process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def imported(proc) -> set[str]:
    """The modules a `python -X importtime` run imported (from its stderr)."""
    return {
        line.rpartition("|")[2].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def cli_tick(path: Path, pycache: Path, runs: int = 3) -> dict:
    env = cli_env(path, pycache)
    # The outbox already holds the round's cards: a tick with nothing to send needs an
    # empty outbox, so measure on a copy where they count as sent.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE outbound_messages SET status = 'sent'")
    conn.commit()
    conn.close()
    tick = ["-m", "bot", "tick", "--now", "2026-12-07T09:34"]
    cold, _, _ = timed_run(tick, env)  # compiles our modules into `pycache`
    _, _, traced = timed_run(["-X", "importtime", *tick], env)
    modules = imported(traced)
    timed = [timed_run(tick, env)[:2] for _ in range(runs)]
    return {
        "cli_tick_s": statistics.median(w for w, _ in timed),
        "cli_tick_cpu_s": statistics.median(c for _, c in timed),
        "cli_tick_cold_s": cold,
        "cli_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "cli_modules": len(modules),
        "lark": any(m.split(".")[0] == "lark_oapi" for m in modules),
    }


def run_rss(path: Path, pycache: Path) -> float:
    """Resident memory of an idle `dutybot run` (webhook, workers, scheduler) once it
    answers /healthz, has sent a message through the emulator and has ticked: MB, read
    from /proc."""
    import signal
    import socket
    import urllib.request

    from bot.devtools.emulator import FeishuEmulator

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from storage.outbox import outbox_row

    row = outbox_row(  # one message waiting: the bot sends it when it starts
        uuid="bench-rss",
        now=datetime.now(UTC),
        kind="send",
        body={"text": "hello"},
        msg_type="text",
        receive_id_type="open_id",
        receive_id="ou_d00000",
    )
    row = {k: ts(v) if isinstance(v, datetime) else v for k, v in row.items()}
    conn = sqlite3.connect(path)
    conn.execute(
        f"INSERT INTO outbound_messages ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    conn.commit()
    conn.close()
    emulator = FeishuEmulator(app_id="cli_bench", app_secret="bench", strict_ids=False)
    emulator.start()
    env = cli_env(
        path,
        pycache,
        FEISHU_DOMAIN=emulator.base_url,
        DUTYBOT_PORT=str(port),
        DUTYBOT_LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit("dutybot run exited") from None
                time.sleep(0.5)
        emulator.wait_for_messages(1, timeout=60)
        time.sleep(10)  # settle: first tick, workers idle
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS")).split()[1])
        return rss_kb / 1024
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        emulator.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="2,000 members")
    args = parser.parse_args()
    n = 2_000 if args.quick else args.members
    tmp = Path(tempfile.mkdtemp(prefix="dutybot-tick-"))
    path = tmp / "tick.db"
    engine = db.make_engine(f"sqlite+aiosqlite:///{path}")
    await db.upgrade(engine)
    await engine.dispose()
    people = members(n)
    load(path, people)
    result = await in_process(path, n)
    pycache = tmp / "pycache"
    result.update(cli_tick(path, pycache))
    result["run_rss_mb"] = run_rss(path, pycache)
    print(f"members: {n:,}; periodic tasks prepared in {result['prepare_s']:.1f} s")
    print(
        f"round (Mon 09:30): {result['cards']:,} cards, {result['round_items']:,} items "
        f"planned and queued in {result['round_s']:.2f} s ({result['round_cpu_s']:.2f} s CPU)"
    )
    print(f"idle tick: {result['idle_s']:.3f} s ({result['idle_cpu_s']:.3f} s CPU)")
    print(
        f"`dutybot tick`, nothing to send: {result['cli_tick_s']:.2f} s wall, "
        f"{result['cli_tick_cpu_s']:.2f} s CPU (median of 3), peak RSS "
        f"{result['cli_rss_mb']:.0f} MB, {result['cli_modules']} modules, lark-oapi "
        f"imported: {'yes' if result['lark'] else 'no'}; first run (compiling our modules) "
        f"{result['cli_tick_cold_s']:.2f} s"
    )
    print(f"`dutybot run`, idle: RSS {result['run_rss_mb']:.0f} MB")
    print(
        f"RESULT tick_idle_s={result['idle_s']:.3f} tick_round_plan_s={result['round_s']:.2f} "
        f"members={n} cli_tick_s={result['cli_tick_s']:.2f} "
        f"cli_tick_cpu_s={result['cli_tick_cpu_s']:.2f} cli_lark_imported={int(result['lark'])} "
        f"run_rss_mb={result['run_rss_mb']:.0f} cli_tick_cold_s={result['cli_tick_cold_s']:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
