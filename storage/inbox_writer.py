"""The webhook's inbox insert on SQLite: its own sqlite3 connections, so a batch of events
costs one multi-row INSERT … RETURNING and one COMMIT, without SQLAlchemy compiling the
statement or the async driver hopping threads per call. Made at once on the event loop
when the write lock is free, else by a dedicated thread that waits for the lock.

Same table, same guarantees as the Core path (storage.inbox.record_events): the caller's
future resolves only after COMMIT (WAL, synchronous=NORMAL, as every other connection), so
nothing is acknowledged before it is durable against a killed process."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy.engine import URL

COLUMNS = (
    "dedupe_key",
    "event_id",
    "event_type",
    "payload",
    "status",
    "attempts",
    "received_at",
    "event_created_at",
    "next_attempt_at",
    "processed_at",
)
BUSY, LOCKED = sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED
_ROW = "(" + ", ".join("?" * len(COLUMNS)) + ")"
_HEAD = f"INSERT INTO inbound_events ({', '.join(COLUMNS)}) VALUES "
_TAIL = " ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"


def stored_value(value):
    """A value as SQLAlchemy stores it on SQLite (UTCDateTime: naive UTC text)."""
    if isinstance(value, datetime):
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def sqlite_file(url: URL) -> str | None:
    """The database file of a SQLite URL, or None (not SQLite, or in memory)."""
    if url.get_backend_name() != "sqlite":
        return None
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:") or url.query:
        return None
    return path


class SqliteInboxWriter:
    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path, self.timeout = path, timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="inbox-writer")
        self._conn: sqlite3.Connection | None = None
        self._now: sqlite3.Connection | None = None
        self._closed = False

    def _open(self, timeout: float) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open(self.timeout)
        return self._conn

    def _at_once(self) -> sqlite3.Connection:
        """The event loop's connection: never waits for the lock (busy_timeout 0), and
        leaves checkpoints (disk syncs) to the other connections' commits."""
        if self._now is None:
            self._now = self._open(0)
            self._now.execute("PRAGMA wal_autocheckpoint=0")
        return self._now

    def _insert(self, rows: list[dict], conn: sqlite3.Connection | None = None) -> set[str]:
        conn = conn or self._connection()
        params = [stored_value(row[c]) for row in rows for c in COLUMNS]
        sql = _HEAD + ", ".join([_ROW] * len(rows)) + _TAIL
        conn.execute("BEGIN IMMEDIATE")
        try:
            new = {r[0] for r in conn.execute(sql, params).fetchall()}
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return new

    async def record(self, rows: list[dict]) -> set[str]:
        """Store events once each (≤ 3,000 rows: SQLite's bound-variable limit); returns
        the dedupe keys that were new. Returns after COMMIT.

        When no other connection holds the write lock (the usual case) the insert runs
        right here, on the event loop (a fraction of a millisecond: no disk sync at COMMIT
        in WAL with synchronous=NORMAL); the hand-off to the writer's thread and back cost
        more, and under load a thread waits tens of milliseconds to be scheduled. Only
        when the lock is taken does the thread wait for it. Calls must not overlap (the
        batcher makes one at a time)."""
        if not rows:
            return set()
        try:
            return self._insert(rows, self._at_once())
        except sqlite3.OperationalError as exc:  # busy: another connection is writing
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (BUSY, LOCKED):
                raise
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._insert, rows)

    def _close(self) -> None:
        for conn in (self._conn, self._now):
            if conn is not None:
                conn.close()
        self._conn = self._now = None

    async def close(self) -> None:
        """Close the connection and end the thread (idempotent: stop may run twice)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
