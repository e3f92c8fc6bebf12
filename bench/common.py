"""What the benchmarks share: a free port, a percentile, a throwaway PostgreSQL database."""

from __future__ import annotations

import secrets
import socket


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
