"""The one-hop SQLite cursor (storage.sqlite_driver) behaves as the DB-API cursor
SQLAlchemy expects: rows, row counts, last row ids, many rows, errors, transactions."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import db, sqlite_driver
from storage.sqlite_driver import OneHopConnection


async def test_statements_through_the_one_hop_cursor(tmp_path):
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.dbapi_connection, OneHopConnection)
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
            inserted = await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
            assert inserted.lastrowid == 1 and inserted.rowcount == 1
            many = await conn.execute(
                text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}]
            )
            assert many.rowcount == 2
            changed = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
            assert changed.rowcount == 2
            rows = (await conn.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!")]
            returned = await conn.execute(text("UPDATE t SET v = 'z' WHERE id = 1 RETURNING id, v"))
            assert [tuple(r) for r in returned] == [(1, "z")]
            assert (await conn.execute(text("SELECT v FROM t WHERE id = 99"))).first() is None
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (v) VALUES ('z')"))
        async with engine.begin() as conn:  # rolled back: still three rows, usable
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3
    finally:
        await engine.dispose()


async def test_writes_queued_for_the_next_hop(tmp_path):
    """storage.driver_writes: a queued write runs before the next statement or with the
    COMMIT, in order; a rollback drops it; a failing one fails its transaction whole. The
    bound values are what SQLAlchemy writes (types, defaults and onupdate values)."""
    from datetime import UTC, datetime

    from sqlalchemy import bindparam, insert, update
    from sqlalchemy.exc import IntegrityError as Integrity
    from sqlmodel import select

    from storage.audit import audit_soon
    from storage.driver_reads import fetch
    from storage.driver_writes import write_soon
    from storage.models import AuditLog, Task

    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    engine = db.make_engine(url)
    await db.upgrade(engine)
    sessions = db.make_session_factory(engine)
    now = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    ran = sqlite_driver.ran_later
    try:
        async with sessions() as s:
            await audit_soon(s, at=now, action="x.one", actor="ou_a", subject="s", k="v")
            # the next statement sees it (it ran first, in the same hop)
            rows = (await s.exec(select(AuditLog.action, AuditLog.at, AuditLog.detail))).all()
            assert [tuple(r) for r in rows] == [("x.one", now, '{"k": "v"}')]
            await audit_soon(s, at=now, action="x.two")
            # a driver-level read (storage.driver_reads) sees it too
            found = await fetch(
                s,
                "SELECT action FROM audit_log ORDER BY id",
                [],
                [AuditLog.__table__.c.action],
                lambda: select(AuditLog.action).order_by(AuditLog.id),
            )
            assert found == [("x.one",), ("x.two",)]
            await s.commit()  # queued write and COMMIT together
        assert sqlite_driver.ran_later - ran == 2
        async with sessions() as s:
            await audit_soon(s, at=now, action="x.dropped")
            await s.rollback()
        async with sessions() as s:
            s.add(
                Task(
                    duty_key="d",
                    assignee_open_id="ou_a",
                    period_key="p",
                    due_at=now,
                    created_at=now,
                    updated_at=now,
                    next_action_at=now,
                )
            )
            await s.commit()
            task_id = (await s.exec(select(Task.id))).one()
            make = lambda: update(Task.__table__).where(  # noqa: E731
                Task.__table__.c.id == bindparam("w_id")
            )
            assert await write_soon(s, "t", make, {"status": "done", "w_id": task_id})
            await s.commit()
        async with sessions() as s:
            actions = (await s.exec(select(AuditLog.action).order_by(AuditLog.id))).all()
            assert list(actions) == ["x.one", "x.two"]  # the rolled back one never ran
            status, next_at = (await s.exec(select(Task.status, Task.next_action_at))).one()
            assert status == "done" and next_at == datetime(1970, 1, 1, tzinfo=UTC)  # onupdate
        # A queued write that fails fails the COMMIT, and nothing of that transaction stays.
        with pytest.raises(Integrity):
            async with sessions() as s:
                await audit_soon(s, at=now, action="x.three")
                bad = lambda: insert(AuditLog.__table__)  # noqa: E731
                await write_soon(s, "bad", bad, {"id": 1, "at": now, "action": "dup"})
                await s.commit()
        async with sessions() as s:
            assert (await s.exec(select(AuditLog.action))).all() == ["x.one", "x.two"]
    finally:
        await engine.dispose()
