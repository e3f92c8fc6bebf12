"""What the commands that never talk to Feishu cost as whole processes (issue 11: < 1.5 s).

    python -m bench.commands [--members 2000] [--rounds 5] [--quick]

A SQLite database with N members (as bench/tick.py builds it: periodic tasks for everyone,
plus one task each due on Tuesday, about 4.3 open tasks a person), then each command as an
admin runs it, `python -m bot …` in a fresh process with Feishu credentials set (so lark-oapi
*could* load) and Python's bytecode cache on (bench.tick.cli_env):

    --help, policy check <the shipped policy>, policy show, tasks list, activity list,
    leave list, ledger export ledger.csv, policy diff <the shipped policy> <the same>

Each command runs once with `-X importtime` (untimed: fills the bytecode cache, tells which
modules it loads), then `rounds` times; reported: the median wall time and CPU time. The
last line is ``RESULT cmd_help_s=… cmd_policy_check_s=… … cmd_max_cpu_s=… cmd_lark_imported=0
members=…``; CPU seconds are the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tick import (  # noqa: E402
    TZ,
    add_round_tasks,
    at,
    cli_env,
    imported,
    load,
    members,
    timed_run,
)
from bot.app import build_app  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from storage import db  # noqa: E402

SHIPPED_POLICY = ROOT / "bot" / "policies" / "marketing.toml"


def commands(tmp: Path) -> dict[str, list[str]]:
    return {
        "help": ["--help"],
        "policy_check": ["policy", "check", str(SHIPPED_POLICY)],
        "policy_show": ["policy", "show"],
        "tasks_list": ["tasks", "list"],
        "activity_list": ["activity", "list"],
        "leave_list": ["leave", "list"],
        "ledger_export": ["ledger", "export", str(tmp / "ledger.csv")],
        "policy_diff": ["policy", "diff", str(SHIPPED_POLICY), str(SHIPPED_POLICY)],
    }


async def populate(path: Path, n: int) -> int:
    """Schema, members, everyone's periodic tasks and one task each due on Tuesday; the
    number of open tasks."""
    url = f"sqlite+aiosqlite:///{path}"
    engine = db.make_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    people = members(n)
    load(path, people)
    bot = build_app(Settings(database_url=url), clock=FixedClock(at(6, 20)))
    try:
        await bot.prepare()
        from bot.domain.reminders import first_action_at

        first = first_action_at(bot.policy, bot.calendar, TZ, at(8, 18))
    finally:
        await bot.stop()
    add_round_tasks(path, people, first)
    import sqlite3

    conn = sqlite3.connect(path)
    (open_tasks,) = conn.execute("SELECT count(*) FROM tasks WHERE status = 'open'").fetchone()
    conn.close()
    return open_tasks


def measure(argv: list[str], env: dict[str, str], cwd: Path, rounds: int) -> dict:
    _, _, traced = timed_run(["-X", "importtime", "-m", "bot", *argv], env, cwd=cwd)
    modules = imported(traced)
    runs = [timed_run(["-m", "bot", *argv], env, cwd=cwd)[:2] for _ in range(rounds)]
    return {
        "s": statistics.median(w for w, _ in runs),
        "cpu_s": statistics.median(c for _, c in runs),
        "modules": len(modules),
        "lark": any(m.split(".")[0] == "lark_oapi" for m in modules),
        "aiohttp": any(m.split(".")[0] == "aiohttp" for m in modules),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    tmp = Path(tempfile.mkdtemp(prefix="dutybot-commands-"))
    path = tmp / "commands.db"
    open_tasks = asyncio.run(populate(path, args.members))
    env = cli_env(path, tmp / "pycache")
    print(f"members: {args.members:,}; open tasks: {open_tasks:,}; {rounds} runs each")
    results = {}
    for name, argv in commands(tmp).items():
        r = results[name] = measure(argv, env, tmp, rounds)
        print(
            f"dutybot {' '.join(argv[:2]):<16} {r['s']:5.2f} s wall  {r['cpu_s']:5.2f} s CPU  "
            f"{r['modules']:4d} modules  lark-oapi {'yes' if r['lark'] else 'no'}  "
            f"aiohttp {'yes' if r['aiohttp'] else 'no'}"
        )
    fields = " ".join(f"cmd_{name}_s={r['s']:.2f}" for name, r in results.items())
    worst_cpu = max(r["cpu_s"] for r in results.values())
    lark = int(any(r["lark"] for r in results.values()))
    print(
        f"RESULT {fields} cmd_max_cpu_s={worst_cpu:.2f} cmd_lark_imported={lark} "
        f"members={args.members}"
    )


if __name__ == "__main__":
    main()
