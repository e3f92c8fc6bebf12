"""Hot reads in one driver call on the session's own connection.

Through SQLAlchemy one SELECT costs several trips: on aiosqlite a hand-off to the
connection's thread and back for the cursor, the execute, the fetch and the close; on
asyncpg a BEGIN before the session's first statement (and a ROLLBACK when it closes). The
indexed reads the tick and "what's due" make every time take a fraction of that
(measured: bench/due_query.py). Here such a read runs as one call of the driver (on
SQLite on the loop's own thread, aiosqlite's `execute_fetchall` if that cannot be done at
once; asyncpg `fetch`, which prepares the statement once per connection and keeps it), with its values bound and converted by the columns' own
SQLAlchemy types, so that callers get what the statement would have given (tests compare
the two row for row).

Anything else (another driver, or the driver raising) runs the caller's SQLAlchemy
statement instead: errors then surface, and dropped connections are invalidated, exactly
as before."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, inspect, select
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sqlite_driver import has_later

FAST_DRIVERS = {("sqlite", "aiosqlite"), ("postgresql", "asyncpg")}
calls = 0  # statements run here, past SQLAlchemy's events (tests and benchmarks count them)
_converters: dict[tuple[str, tuple], list] = {}
_texts: dict[tuple[str, str], str] = {}
_binds: dict[tuple[str, Column], Any] = {}


def _dialect_text(dialect: str, sql: str) -> str:
    """`sql` is written with `?` placeholders (no `?` anywhere else); asyncpg numbers them."""
    key = (dialect, sql)
    if key not in _texts:
        if dialect == "postgresql":
            numbers = iter(range(1, sql.count("?") + 1))
            _texts[key] = re.sub(r"\?", lambda _: f"${next(numbers)}", sql)
        else:
            _texts[key] = sql
    return _texts[key]


def _bind_processor(dialect, column: Column | None):
    if column is None:
        return None
    key = (dialect.name, column)
    if key not in _binds:
        _binds[key] = column.type.dialect_impl(dialect).bind_processor(dialect)
    return _binds[key]


def _result_converters(dialect, columns: Sequence[Column]) -> list[tuple[int, Callable]]:
    """(position, processor) of the columns whose values SQLAlchemy converts."""
    key = (dialect.name, tuple(columns))
    if key not in _converters:
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        _converters[key] = [(i, f) for i, f in enumerate(processors) if f is not None]
    return _converters[key]


def converted(dialect, rows, columns: Sequence[Column]) -> list[tuple]:
    """Driver rows of these columns as SQLAlchemy would return them."""
    return _converted(rows, _result_converters(dialect, columns), len(columns))


def _converted(rows, convert: list[tuple[int, Callable]], width: int, make=tuple) -> list:
    # Only the columns that need it, in place: a generator over every value of every row
    # cost the tick ~1 ms for 193 rows (bench/due_query.py).
    out = []
    for row in rows:
        if len(row) != width:
            raise ValueError(f"{len(row)} values, {width} columns")
        values = list(row)
        for i, f in convert:
            values[i] = f(values[i])
        out.append(make(values))
    return out


def _read_here(driver, sql: str, params: list) -> list | None:
    """A SQLite read run on this (the event loop's) thread, on the session's own connection,
    as aiosqlite's thread would run it. The round trip to that thread and back is two
    thread wake-ups, and on a busy machine waiting for them set the p99 (due now at 1M
    tasks, load 6: 9 ms through the thread, 4.5 ms here; bench/due_query.py). The loop
    never waits for the database: with no busy timeout a lock (rare in WAL) raises at
    once, as does a connection made for one thread only. None then, or on any other error:
    the caller hands the read to aiosqlite's thread, which waits, or raises the usual way."""
    try:
        # aiosqlite's own sqlite3 connection; SQLAlchemy opens file databases with
        # check_same_thread=False (the session holds it: nothing else uses it meanwhile)
        conn = driver._conn
        (busy,) = conn.execute("PRAGMA busy_timeout").fetchone()
    except Exception:  # noqa: BLE001 - e.g. check_same_thread: the thread does it
        return None
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        return conn.execute(sql, params).fetchall()
    except Exception:  # noqa: BLE001 - busy, or anything else: the thread does it
        return None
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(busy)}")


async def fetch(
    session: AsyncSession,
    sql: str,
    params: Sequence[tuple[Column | None, Any]],
    columns: Sequence[Column],
    statement: Callable[[], Select],
    make: Callable[[Sequence], tuple] = tuple,
) -> list[tuple]:
    """The rows of `sql` (selecting exactly `columns`, `?` placeholders; each parameter
    given with the column whose type binds it, None: as it is), as tuples of what
    SQLAlchemy would return for `statement()`, which builds the same query and runs
    instead where there is no single-call path; `make` builds each row from its list of
    values (e.g. a namedtuple's `_make`). Does not flush the session."""
    dialect, raw = await raw_connection(session)
    if (dialect.name, dialect.driver) not in FAST_DRIVERS:
        raw = None
    # Writes queued for the connection's next hop (storage.driver_writes) run before the
    # next statement: the statement's own path runs them.
    if raw is not None and not has_later(raw.driver_connection):
        bound = []
        for column, value in params:
            bind = _bind_processor(dialect, column)
            bound.append(value if bind is None else bind(value))
        driver = raw.driver_connection
        text = _dialect_text(dialect.name, sql)
        global calls
        calls += 1
        try:
            if dialect.name != "sqlite":
                rows = await driver.fetch(text, *bound)
            elif (rows := _read_here(driver, text, bound)) is None:
                rows = await driver.execute_fetchall(text, bound)
        except Exception:  # noqa: BLE001 - the statement below raises it the usual way
            pass
        else:
            return _converted(rows, _result_converters(dialect, columns), len(columns), make)
    conn = await session.connection()
    return [make(row) for row in (await conn.execute(statement())).all()]


_RAW = "dutybot_raw_connection"


async def raw_connection(session: AsyncSession):
    """(dialect, pooled DB-API connection) of the session's connection, beginning the
    session's transaction as `session.connection()` does; remembered for the rest of that
    transaction (asking SQLAlchemy costs two greenlet switches each time). The transaction
    is held by a weak reference: the session's `info` holding it (it holds the session)
    made every session cyclic garbage, and the collector's pauses the due queries' p99."""
    sync = session.sync_session
    tx = sync.get_transaction()
    found = sync.info.get(_RAW)
    if found is not None and tx is not None and found[0]() is tx and tx.is_active:
        return found[1], found[2]
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    sync.info[_RAW] = (weakref.ref(sync.get_transaction()), conn.dialect, raw)
    return conn.dialect, raw


def as_loaded(session: AsyncSession, model: type, rows: list[tuple], keys: list[str]):
    """ORM objects for rows of all `model`'s columns (`keys`, the primary key first), as
    `session.exec(select(model))` would give them: an object the session already holds is
    that object (its unloaded attributes filled in from the row), any other is a new
    persistent object with the row as its loaded state."""
    identity_map = session.identity_map
    mapper = inspect(model)
    if not mapper.configured:  # as the first query would
        configure_mappers()
    out, new = [], []
    for row in rows:
        obj = identity_map.get(mapper.identity_key_from_primary_key((row[0],)))
        if obj is None:
            obj = mapper.class_manager.new_instance()
            instance_dict(obj).update(zip(keys, row, strict=True))
            make_transient_to_detached(obj)  # the row is its committed state
            new.append(obj)
        else:
            unloaded = inspect(obj).unloaded
            for key, value in zip(keys, row, strict=True):
                if key in unloaded:
                    set_committed_value(obj, key, value)
        out.append(obj)
    if new:
        session.add_all(new)  # detached → persistent, as a query leaves them
    return out


_model_sql: dict[tuple[type, str], str] = {}


async def autoflush(session: AsyncSession) -> None:
    """What an ORM query does first: send the session's pending changes."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        await session.flush()


def model_columns(model: type) -> tuple[Column, ...]:
    """Every column of `model`'s table, the primary key first (as `as_loaded` takes them)."""
    table = model.__table__
    pk = [c for c in table.columns if c.primary_key]
    return (*pk, *(c for c in table.columns if not c.primary_key))


async def load(
    session: AsyncSession,
    model: type,
    where: str,
    params: Sequence[tuple[Column | None, Any]],
    statement: Callable[[Sequence[Column]], Select],
) -> list:
    """`session.exec(statement(columns)).all()` for every column of `model` (`columns`,
    model_columns), as the session's objects, in one driver call: `where` is the same
    condition (and any ORDER BY / LIMIT) as SQL, with `?` placeholders and quoted column
    names. Pending changes are flushed first, as the query's autoflush would."""
    await autoflush(session)
    columns = model_columns(model)
    key = (model, where)
    sql = _model_sql.get(key)
    if sql is None:
        names = ", ".join(f'"{c.name}"' for c in columns)
        sql = _model_sql[key] = f'SELECT {names} FROM "{model.__table__.name}" WHERE {where}'
    rows = await fetch(session, sql, params, columns, lambda: statement(columns))
    return as_loaded(session, model, rows, [c.key for c in columns])


async def get(session: AsyncSession, model: type, pk: Any):
    """`session.get(model, pk)` (one primary key column) in one driver call; an object the
    session already holds (or has deleted) is the session's own answer."""
    mapper = inspect(model)
    if mapper.identity_key_from_primary_key((pk,)) in session.identity_map:
        return await session.get(model, pk)
    column = model_columns(model)[0]
    found = await load(
        session,
        model,
        f'"{column.name}" = ?',
        [(column, pk)],
        lambda columns: select(*columns).where(column == pk),
    )
    return found[0] if found else None
