"""Reads that skip SQLAlchemy's per-statement hops give exactly what SQLAlchemy gives, and
sessions that only read no longer pay for COMMIT / ROLLBACK they do not need."""

from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite
from sqlmodel import func, select

from storage import db
from storage.models import Task

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def _task(**kw) -> Task:
    base = dict(period_key="p", due_at=NOW, created_at=NOW, updated_at=NOW)
    return Task(**{**base, **kw})


async def test_a_read_only_sqlite_session_does_not_hand_commit_or_rollback_to_the_driver(
    db_url, monkeypatch
):
    """Outside a transaction sqlite3's commit() and rollback() do nothing; through aiosqlite
    each is still a trip to the connection's thread. Writes still commit and roll back."""
    calls: list[str] = []
    commit, rollback = aiosqlite.Connection.commit, aiosqlite.Connection.rollback

    async def counted_commit(self):
        calls.append("commit")
        return await commit(self)

    async def counted_rollback(self):
        calls.append("rollback")
        return await rollback(self)

    monkeypatch.setattr(aiosqlite.Connection, "commit", counted_commit)
    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted_rollback)
    engine = db.make_engine(db_url)
    sessions = db.make_session_factory(engine)
    try:
        async with sessions() as session:  # warm the pool
            await session.exec(select(func.count()).select_from(Task))
        calls.clear()
        async with sessions() as session:
            await session.exec(select(func.count()).select_from(Task))
            await session.commit()
        async with sessions() as session:
            await session.exec(select(func.count()).select_from(Task))
        assert calls == []
        async with sessions() as session:
            session.add(_task(duty_key="kept", assignee_open_id="ou_1"))
            await session.commit()
        async with sessions() as session:
            session.add(_task(duty_key="dropped", assignee_open_id="ou_1"))
            await session.flush()
            await session.rollback()
        async with sessions() as session:
            session.add(_task(duty_key="dropped too", assignee_open_id="ou_1"))
            await session.flush()  # closed without commit: the pool rolls it back
        assert calls == ["commit", "rollback", "rollback"]
        async with sessions() as session:
            kept = (await session.exec(select(Task.duty_key))).all()
    finally:
        await engine.dispose()
    assert kept == ["kept"]
