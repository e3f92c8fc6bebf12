"""One hand-off per statement between the event loop and SQLite's thread.

SQLAlchemy's aiosqlite adapter sends each statement to the connection's thread three or
four times (make a cursor, execute, fetch the rows, close the cursor), and every hand-off
costs a queue put, a thread wake-up and a loop wake-up, more than the indexed read itself
(measured in bench/clicks.py: ~20 statements a card click). `OneHopCursor` runs the
whole statement, its rows included, in one function on that thread; SQLAlchemy sees the
same DB-API cursor. Installed per connection by `storage.db.make_engine` (no global patch);
server-side cursors are SQLAlchemy's own."""

from __future__ import annotations

import collections
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util.concurrency import await_

# A statement carrying this comment (`commit_in_same_call`) is committed in the call that
# runs it: a write whose caller commits right after (a claim, an expiry sweep) then holds
# SQLite's one write lock only while it runs, not across a trip back to the event loop
# and another to COMMIT (a busy loop kept the lock, and the webhook's insert waited).
COMMIT_MARK = "/* commit */"


def commit_in_same_call(stmt):
    """`stmt` (an UPDATE or INSERT) marked to be committed in its own call on aiosqlite;
    elsewhere the comment does nothing and the caller's COMMIT commits as before. Only for
    a statement its caller commits right after (and never inside a SAVEPOINT)."""
    return stmt.prefix_with(COMMIT_MARK)


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor made in advance
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None
        self._soft_closed_memoized = {}
        self._rows = collections.deque()
        self._description = None
        self._rowcount = -1
        self._lastrowid = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        return None  # nothing stays open: the driver's cursor closed in its thread

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        conn = self._connection
        pending = _take(conn)

        def run() -> tuple:
            _run(conn._conn, pending)
            cursor = conn._conn.cursor()
            try:
                if parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else None
                done = description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()
            if COMMIT_MARK in operation:
                conn._conn.commit()
            return done

        async with self._adapt_connection._execute_mutex:
            description, rows, self._rowcount, self._lastrowid = await conn._execute(run)
        self._description = description
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        conn = self._connection
        pending = _take(conn)

        def run() -> tuple:
            _run(conn._conn, pending)
            cursor = conn._conn.cursor()
            try:
                cursor.executemany(operation, seq_of_parameters)
                return cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            self._rowcount, self._lastrowid = await conn._execute(run)
        self._description = None
        self._rows = collections.deque()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor

    def commit(self) -> None:
        """The queued writes and the COMMIT in one hop."""
        raw = self._connection
        pending = _take(raw) if raw._connection else None
        if not pending:
            return super().commit()

        def run() -> None:
            try:
                _run(raw._conn, pending)
            except BaseException:
                # SQLAlchemy takes a failed COMMIT as the transaction's end and hands the
                # connection back as it is: what ran of it must not stay open.
                raw._conn.rollback()
                raise
            raw._conn.commit()

        try:
            await_(raw._execute(run))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        drop_later(self._connection)
        super().rollback()


def one_hop(dbapi_connection: Any) -> None:
    """Give a freshly made aiosqlite DB-API connection (SQLAlchemy's adapter) the one-hop
    cursor; anything else is left alone."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneHopConnection


# -- writes that wait for the next hop -----------------------------------------------------
# A write whose result nobody reads (an audit row, an outbox row, a card snapshot) can wait
# for the next hop this connection makes anyway: it runs first in that hop, before the
# statement that follows it or with the COMMIT. The order of statements is the same; a
# write transaction then holds SQLite's one write lock for fewer hand-offs (and event loop
# turns) before its COMMIT. A failing write raises where it runs (at that statement or the
# COMMIT), inside the same transaction, so nothing of it is committed either way.
LATER = "_dutybot_later"
ran_later = 0  # statements run this way (tests and benchmarks count them with the rest)


def write_later(driver_connection: Any, sql: str, params: tuple) -> None:
    """Queue `sql` (qmark parameters, already bound) on an aiosqlite connection."""
    pending = driver_connection.__dict__.get(LATER)
    if pending is None:
        pending = driver_connection.__dict__[LATER] = []
    pending.append((sql, params))


def has_later(driver_connection: Any) -> bool:
    return bool(getattr(driver_connection, "__dict__", {}).get(LATER))


def drop_later(driver_connection: Any) -> None:
    """Forget queued writes (the transaction rolls back: they never happened)."""
    pending = getattr(driver_connection, "__dict__", {}).get(LATER)
    if pending:
        pending.clear()


def _take(driver_connection: Any) -> list | None:
    pending = driver_connection.__dict__.get(LATER)
    if not pending:
        return None
    driver_connection.__dict__[LATER] = []
    return pending


def _run(conn: Any, pending: list | None) -> None:
    """In SQLite's thread: the queued writes, in order."""
    global ran_later
    if pending:
        for sql, params in pending:
            conn.execute(sql, params)
        ran_later += len(pending)
