"""Hot reads in one driver call on the session's own connection.

Through SQLAlchemy one SELECT costs several trips: on aiosqlite a hand-off to the
connection's thread and back for the cursor, the execute, the fetch and the close; on
asyncpg a BEGIN before the session's first statement (and a ROLLBACK when it closes). The
indexed reads the tick and "what's due" make every time take a fraction of that
(measured: bench/due_query.py). Here such a read runs as one call of the driver
(aiosqlite `execute_fetchall`; asyncpg `fetch`, which prepares the statement once per
connection and keeps it), with its values bound and converted by the columns' own
SQLAlchemy types, so that callers get what the statement would have given (tests compare
the two row for row).

Anything else (another driver, or the driver raising) runs the caller's SQLAlchemy
statement instead: errors then surface, and dropped connections are invalidated, exactly
as before."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, inspect
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.sql import Select
from sqlmodel.ext.asyncio.session import AsyncSession

FAST_DRIVERS = {("sqlite", "aiosqlite"), ("postgresql", "asyncpg")}
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
    conn = await session.connection()
    dialect = conn.dialect
    if (dialect.name, dialect.driver) in FAST_DRIVERS:
        bound = []
        for column, value in params:
            bind = _bind_processor(dialect, column)
            bound.append(value if bind is None else bind(value))
        driver = (await conn.get_raw_connection()).driver_connection
        text = _dialect_text(dialect.name, sql)
        try:
            if dialect.name == "sqlite":
                rows = await driver.execute_fetchall(text, bound)
            else:
                rows = await driver.fetch(text, *bound)
        except Exception:  # noqa: BLE001 - the statement below raises it the usual way
            pass
        else:
            return _converted(rows, _result_converters(dialect, columns), len(columns), make)
    return [make(row) for row in (await conn.execute(statement())).all()]


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
