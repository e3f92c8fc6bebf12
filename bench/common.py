"""What the benchmarks share: a free port, a percentile, a throwaway PostgreSQL database,
the Feishu emulator in its own process (Feishu is not on the bot's machine)."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank); NaN for no values."""
    values = sorted(values)
    if not values:
        return float("nan")
    return values[max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))]


async def create_pg_database(server: str, prefix: str = "dutybot_bench") -> str:
    """A throwaway database on `server` (postgresql+asyncpg://user@host:port); its URL."""
    import asyncpg

    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server.replace("+asyncpg", "") + "/postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"{server}/{name}"


async def drop_pg_database(server: str, url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server.replace("+asyncpg", "") + "/postgres")
    await conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await conn.close()


def run_emulator(port: int, *, limits: bool):
    """In the emulator's process: start it on `port` and say so on the first line of
    stdout (`emulator on URL`, what `start_emulator_process` waits for); returns it."""
    from bot.devtools.emulator.server import FeishuEmulator
    from tests import feishu_events as fe

    emu = FeishuEmulator(
        app_id=fe.APP_ID,
        app_secret=fe.APP_SECRET,
        bot_open_id=fe.BOT_OPEN_ID,
        port=port,
        strict_ids=False,
        limits_enabled=limits,
    )
    print(f"emulator on {emu.start()}", flush=True)
    return emu


def start_emulator_process(serve: str, *, stdin: bool = False) -> tuple[subprocess.Popen, str]:
    """Run `serve` ("module:function", called with a free port, which calls
    `run_emulator`) in its own process; the process and the emulator's URL."""
    module, function = serve.split(":")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from {module} import {function}; {function}({port})"],
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if "emulator on" not in line:
        proc.kill()
        raise RuntimeError(f"emulator did not start: {line!r}")
    return proc, line.split("emulator on", 1)[1].strip()
