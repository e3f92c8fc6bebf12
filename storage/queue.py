"""Claiming rows of a work table (inbox, outbox) so that several workers or replicas never
take the same row twice, and a crashed worker's rows come back after their lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundEvent, OutboundMessage
from storage.sqlite_driver import commit_in_same_call

Row = TypeVar("Row", InboundEvent, OutboundMessage)


def _claimable(model: type[Row], now: datetime):
    return or_(
        and_(model.status == "pending", model.next_attempt_at <= now),
        and_(model.status == "processing", model.lease_until < now),
    )


async def claim(
    session: AsyncSession, model: type[Row], now: datetime, lease: timedelta, limit: int
) -> list[Row]:
    """Mark up to `limit` due rows as processing (leased until now+lease) and return them.

    PostgreSQL: one UPDATE over a `FOR UPDATE SKIP LOCKED` sub-select, so concurrent
    replicas skip each other's rows. SQLite has a single writer, so the same statement
    without the locking clause is already exclusive.
    """
    pick = select(model.id).where(_claimable(model, now)).order_by(model.id).limit(limit)
    rows = await _lease(session, model, pick, now, lease)
    return sorted(rows, key=lambda r: r.id)


async def _lease(session: AsyncSession, model: type[Row], pick, now: datetime, lease: timedelta):
    """Lease the claimable rows whose ids `pick` selects (locked, skipping rows another
    replica holds, on PostgreSQL), commit, and return them in no particular order."""
    if session.bind.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(model)
        .where(model.id.in_(pick.scalar_subquery()))
        .where(_claimable(model, now))
        .values(status="processing", lease_until=now + lease)
        .returning(model)
        .execution_options(synchronize_session=False)
    )
    rows = list((await session.exec(commit_in_same_call(stmt))).scalars().all())
    await session.commit()
    return rows


async def claim_fair(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    limit: int,
    per_lane: int,
    max_priority: int | None = None,
) -> list[OutboundMessage]:
    """Claim due outbox rows fairly: at most `per_lane` per receiver (a busy chat's backlog
    never fills the batch), most urgent first (answers before bulk), then oldest first;
    only rows of `max_priority` or more urgent, if given.

    PostgreSQL refuses FOR UPDATE next to a window function, so the window ranks candidates
    in a sub-select and the outer select locks (skipping rows another replica holds)."""
    model = OutboundMessage
    due = _claimable(model, now)
    if max_priority is not None:
        due = and_(due, model.priority <= max_priority)
    ranked = (
        select(
            model.id,
            func.row_number()
            .over(partition_by=model.lane, order_by=(model.priority, model.id))
            .label("rn"),
        )
        .where(due)
        .subquery()
    )
    pick = (
        select(model.id)
        .where(model.id.in_(select(ranked.c.id).where(ranked.c.rn <= per_lane)))
        .order_by(model.priority, model.id)
        .limit(limit)
    )
    rows = await _lease(session, model, pick, now, lease)
    return sorted(rows, key=lambda r: (r.priority, r.id))


async def insert_ignore(
    session: AsyncSession,
    model: type,
    values: dict[str, Any] | list[dict[str, Any]],
    key: str | list[str],
) -> int:
    """INSERT … ON CONFLICT (key) DO NOTHING; returns how many rows were inserted."""
    if isinstance(values, list) and not values:
        return 0
    dialect = session.bind.dialect.name
    columns = (key,) if isinstance(key, str) else tuple(key)
    if isinstance(values, dict):
        # One row (an outbox message, a marker): a Core statement made once per table and
        # column set, the values bound as parameters. The ORM form rebuilt the statement and
        # its cache key from the values on every call. Pending ORM changes are flushed first,
        # as the ORM statement's autoflush did, so the order of writes is the same.
        sync = session.sync_session
        if sync.autoflush and (sync.new or sync.dirty or sync.deleted):
            await session.flush()
        stmt = _insert_one(dialect, model.__table__, columns)
        return (await session.exec(stmt, params=values)).rowcount
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(values).on_conflict_do_nothing(index_elements=list(columns))
    result = await session.exec(stmt)
    return result.rowcount


@lru_cache(maxsize=256)
def _insert_one(dialect: str, table, key: tuple[str, ...]):
    """INSERT … ON CONFLICT (key) DO NOTHING; its VALUES are the executed row's columns."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=list(key))


def backoff(attempts: int, base: float = 2.0, cap: float = 600.0) -> timedelta:
    """Delay before retry number `attempts` (1-based): 2 s, 4 s, 8 s … capped."""
    return timedelta(seconds=min(cap, base ** max(1, attempts)))
