"""Writes nobody reads the result of, made without SQLAlchemy's per-statement work.

An audit row, an outbox row, a card snapshot, a task's new status: the click path makes
several such writes and reads none of their results. Through SQLAlchemy each is a cache
key, an execution context and a hand-off to SQLite's thread while the transaction holds
SQLite's one write lock. Here, on SQLite (aiosqlite with the one-hop cursor), such a write
is compiled once per statement shape, its values bound with the columns' own types (and
the columns' Python-side defaults and `onupdate` values filled in, as SQLAlchemy would),
and queued on the session's connection (`storage.sqlite_driver.write_later`): it runs in
the connection's next hop, before the next statement or with the COMMIT, in order.

Elsewhere (PostgreSQL, another driver) `write_soon` says no and the caller writes as it
always did."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.sql import ClauseElement
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import driver_reads
from storage.driver_reads import autoflush, converted, raw_connection
from storage.sqlite_driver import OneHopConnection, has_later, write_later

_prepared: dict[tuple, tuple[str, tuple, dict, list]] = {}


def _prepare(dialect, key: Any, make: Callable[[], ClauseElement], columns: tuple[str, ...]):
    """(SQL, parameter names in order, bind processors, prefetched defaults) of `make()`
    compiled for these value columns, made once per (dialect, key, columns)."""
    cache_key = (dialect.name, key, columns)
    found = _prepared.get(cache_key)
    if found is None:
        compiled = make().compile(dialect=dialect, column_keys=list(columns))
        defaults = []
        for column in compiled.insert_prefetch:
            defaults.append((column.key, column.default))
        for column in compiled.update_prefetch:
            defaults.append((column.key, column.onupdate))
        for name, default in defaults:
            if default is None or not default.is_scalar:
                raise ValueError(f"{key}: only scalar defaults are prefetched here ({name})")
        found = (
            compiled.string,
            tuple(compiled.positiontup or ()),
            dict(compiled._bind_processors),
            [(name, default.arg) for name, default in defaults],
        )
        _prepared[cache_key] = found
    return found


def bound(dialect, key: Any, make: Callable[[], ClauseElement], values: Mapping[str, Any]):
    """The SQL and its positional parameters, bound as SQLAlchemy would bind them.
    `values`: the written columns by key, and any named `bindparam` of the statement."""
    columns = tuple(sorted(k for k in values if not k.startswith("w_")))
    sql, names, processors, defaults = _prepare(dialect, key, make, columns)
    params = dict(values)
    for name, value in defaults:
        params.setdefault(name, value)
    out = []
    for name in names:
        value = params[name]
        process = processors.get(name)
        out.append(value if process is None else process(value))
    return sql, tuple(out)


async def write_soon(
    session: AsyncSession, key: Any, make: Callable[[], ClauseElement], values: Mapping[str, Any]
) -> bool:
    """Queue the write `make()` (an INSERT or UPDATE without values, for SQLite; `key`
    names its shape) with `values` (columns by key; the statement's own `bindparam`s are
    named `w_…`) for the connection's next hop: True. False where there is no such
    connection (PostgreSQL, another driver): then the caller writes as it always did.
    Pending ORM changes are flushed first, so writes keep the order they were made in."""
    if session.bind.dialect.name != "sqlite":
        return False
    dialect, raw = await raw_connection(session)
    if not isinstance(raw.dbapi_connection, OneHopConnection):
        return False
    sync = session.sync_session
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()
    sql, params = bound(dialect, key, make, values)
    write_later(raw.driver_connection, sql, params)
    return True


async def write_returning(
    session: AsyncSession,
    key: Any,
    make: Callable[[], ClauseElement],
    values: Mapping[str, Any],
    columns: tuple,
) -> list[tuple] | None:
    """The rows of the write `make()` (… RETURNING `columns`), bound as `bound` binds it
    and converted by the columns' own types, in one driver call on SQLite when nothing is
    queued on the connection; None where that is not possible or the driver raised: the
    caller then runs its SQLAlchemy statement, which raises the error the usual way (a
    failed statement changed nothing)."""
    if session.bind.dialect.name != "sqlite":
        return None
    await autoflush(session)
    dialect, raw = await raw_connection(session)
    if not isinstance(raw.dbapi_connection, OneHopConnection) or has_later(raw.driver_connection):
        return None
    sql, params = bound(dialect, key, make, values)
    driver_reads.calls += 1
    try:
        rows = await raw.driver_connection.execute_fetchall(sql, params)
    except Exception:  # noqa: BLE001 - the caller's statement raises it the usual way
        return None
    return converted(dialect, rows, columns)
