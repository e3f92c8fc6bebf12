"""The webhook's inbox writer on SQLite (a dedicated thread and connection, group commit):
a 200 means the event is committed to the database file, read back by a connection that
shares nothing with the bot's (as after kill -9); duplicates inside one batch and across
batches are stored once; the optional orjson parser never changes what is accepted."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from bot.fast import loads
from tests import feishu_events as fe


def stored(db_url: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        return conn.execute(
            "SELECT dedupe_key, status FROM inbound_events ORDER BY dedupe_key"
        ).fetchall()
    finally:
        conn.close()


async def test_every_acknowledged_event_is_committed_once(harness, db_url):
    now = harness.clock.now()
    messages = [
        fe.message(f"hello {i}", "ou_planner", now, message_id=f"om_w{i}") for i in range(40)
    ]
    answers = await asyncio.gather(*(harness.post(m) for m in messages + messages[:10]))
    assert [a.status for a in answers] == [200] * 50
    rows = stored(db_url)
    assert sorted(k for k, _ in rows if k.startswith("msg:om_w")) == sorted(
        f"msg:om_w{i}" for i in range(40)
    )
    assert harness.bot.stats["duplicates"] == 10


def test_fast_json_accepts_and_refuses_exactly_what_json_does():
    for raw in (b'{"a": [1, "\xe4\xbd\xa0"]}', b'"\\ud800"', b'{"a": 1, "a": 2}'):
        assert loads(raw) == json.loads(raw)
    assert str(loads(b'{"a": NaN}')) == str(json.loads(b'{"a": NaN}'))  # json's extension
    for bad in (b"{", b"\xef\xbb\xbf{}", b"[" * 100_000):
        try:
            loads(bad)
        except (ValueError, RecursionError):
            pass
        else:  # pragma: no cover - the assertion below explains
            raise AssertionError(f"{bad[:10]!r} accepted")
