"""What several departments cost the scheduler: the same team in one department, then split
over D departments (each a copy of the shipped policy, so the work is the same).

    python -m bench.departments [--members 2000] [--departments 2,4]

With departments, each job runs once per department (its roster, its tasks, its team
chats); this measures the idle tick and the Monday-morning round for the same N people
and the same tasks (bench/tick.py's team and round), through `bot.jobs.scheduler.run_tick`.
The last line is ``RESULT members=… d1_idle_s=… d2_idle_s=… …``."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
from pathlib import Path

from bench.tick import ROOT, TZ, add_round_tasks, at, load, members, timed_tick, ts
from bot.app import build_app
from bot.clock import FixedClock
from bot.config import Settings
from bot.jobs.scheduler import run_tick
from storage import db


def split(path: Path, people: list[tuple], departments: int) -> None:
    """Department d<k> for the k-th manager's group (the director in d1), declared with the
    shipped policy's text, as `org sync` would store it."""
    if departments <= 1:
        return
    policy = (ROOT / "bot" / "policies" / "marketing.toml").read_text(encoding="utf-8")
    managers = [p[0] for p in people if p[2] == "manager"]
    dept = {m: f"d{i % departments + 1}" for i, m in enumerate(managers)}
    dept["ou_d00000"] = "d1"
    conn = sqlite3.connect(path)
    now = ts(at(6, 20))
    conn.executemany(
        "INSERT INTO departments (key, name, policy_path, policy_text, active, created_at, "
        "updated_at) VALUES (?, ?, '', ?, 1, ?, ?)",
        [(f"d{k + 1}", f"department {k + 1}", policy, now, now) for k in range(departments)],
    )
    rows = [(dept.get(o) or dept[mg], o) for o, _, _, mg, _ in people]
    conn.executemany("UPDATE members SET department = ? WHERE open_id = ?", rows)
    conn.commit()
    conn.close()


async def measure(n: int, departments: int) -> dict:
    path = Path(tempfile.mkdtemp(prefix="dutybot-depts-")) / "tick.db"
    engine = db.make_engine(f"sqlite+aiosqlite:///{path}")
    await db.upgrade(engine)
    await engine.dispose()
    people = members(n)
    load(path, people)
    split(path, people, departments)
    bot = build_app(Settings(database_url=f"sqlite+aiosqlite:///{path}"), FixedClock(at(6, 20)))
    try:
        await bot.prepare()
        from bot.domain.reminders import first_action_at

        add_round_tasks(path, people, first_action_at(bot.policy, bot.calendar, TZ, at(8, 18)))
        if departments > 1:  # the round's tasks are in their assignee's department
            conn = sqlite3.connect(path)
            conn.execute(
                "UPDATE tasks SET department = (SELECT department FROM members "
                "WHERE members.open_id = tasks.assignee_open_id) WHERE period_key = 'bench'"
            )
            conn.commit()
            conn.close()
        await run_tick(bot, at(7, 9))
        wall, cpu, report = await timed_tick(bot, at(7, 9, 30))
        idle = [await timed_tick(bot, at(7, 9, 31 + i)) for i in range(3)]
        assert all(r.reminders.cards == 0 for _, _, r in idle), "an idle tick sent something"
        return {
            "departments": len(bot.services.policies.declared) or 1,
            "round_s": wall,
            "round_cpu_s": cpu,
            "cards": report.reminders.cards,
            "idle_s": statistics.median(w for w, _, _ in idle),
            "idle_cpu_s": statistics.median(c for _, c, _ in idle),
        }
    finally:
        await bot.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--departments", default="2,4", help="comma-separated counts")
    args = parser.parse_args()
    counts = [1, *(int(c) for c in args.departments.split(","))]
    results = [await measure(args.members, d) for d in counts]
    for r in results:
        print(
            f"{r['departments']} department(s): idle tick {r['idle_s']:.3f} s "
            f"({r['idle_cpu_s']:.3f} s CPU); round {r['cards']:,} cards in {r['round_s']:.2f} s "
            f"({r['round_cpu_s']:.2f} s CPU)"
        )
    parts = [f"members={args.members}"]
    for r in results:
        d = r["departments"]
        parts += [f"d{d}_idle_s={r['idle_s']:.3f}", f"d{d}_round_s={r['round_s']:.2f}"]
    print("RESULT " + " ".join(parts))


if __name__ == "__main__":
    asyncio.run(main())
