"""Reads that skip SQLAlchemy's per-statement hops give exactly what SQLAlchemy gives, and
sessions that only read no longer pay for COMMIT / ROLLBACK they do not need."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone

import aiosqlite
import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, func, select

from storage import db
from storage.models import Task, TaskStatus
from storage.reminders import due_now_query, tasks_due_now
from storage.tasks import list_open_tasks

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


def _mixed_tasks() -> list[Task]:
    return [
        _task(duty_key="a", assignee_open_id="ou_1", due_at=NOW + timedelta(days=2)),
        _task(  # every nullable column set, text that needs care, microseconds
            duty_key="b",
            assignee_open_id="ou_1",
            due_at=NOW + timedelta(days=1, microseconds=7),
            status="rejected",
            activity_id=3,
            department="ops",
            done_at=NOW - timedelta(hours=1),
            note="改一下 'quoted' <b>",
            snoozed_until=NOW + timedelta(hours=20),
            original_due_at=NOW - timedelta(days=1),
            subject="周报 ? $1",
            next_action_at=NOW - timedelta(seconds=1),
        ),
        _task(duty_key="c", assignee_open_id="ou_1", status="submitted", due_at=NOW),
        _task(duty_key="d", assignee_open_id="ou_1", due_at=NOW),  # same due as c: by id
        _task(duty_key="e", assignee_open_id="ou_1", status="done"),
        _task(duty_key="f", assignee_open_id="ou_2"),
        _task(duty_key="g", assignee_open_id="ou_1", status="cancelled"),
    ]


def _orm_open_tasks(open_id: str):
    return (
        select(Task)
        .where(Task.assignee_open_id == open_id, col(Task.status).in_(TaskStatus.OPEN_STATES))
        .order_by(Task.due_at, Task.id)
    )


def _values(task: Task) -> tuple:
    return tuple(getattr(task, c.key) for c in Task.__table__.columns)


@asynccontextmanager
async def seeded(url: str):
    """A migrated database at `url` holding `_mixed_tasks()`; its session factory."""
    engine = db.make_engine(url)
    await db.upgrade(engine)
    sessions = db.make_session_factory(engine)
    try:
        async with sessions() as session:
            session.add_all(_mixed_tasks())
            await session.commit()
        yield sessions
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request):
    return request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")


async def test_whats_due_gives_what_the_orm_statement_gives(any_db):
    """list_open_tasks reads in one driver call: the same rows, in the same order, with
    the same values and types, as session.exec(select(Task)…)."""
    async with seeded(any_db) as sessions:
        async with sessions() as session:
            fast = await list_open_tasks(session, "ou_1")
        async with sessions() as session:
            slow = list((await session.exec(_orm_open_tasks("ou_1"))).all())
        async with sessions() as session:
            assert await list_open_tasks(session, "ou_nobody") == []
    assert [t.duty_key for t in fast] == ["c", "d", "b", "a"]
    assert [_values(t) for t in fast] == [_values(t) for t in slow]
    for f, s in zip(fast, slow, strict=True):
        assert [type(v) for v in _values(f)] == [type(v) for v in _values(s)]
    b = fast[2]
    assert b.due_at.tzinfo is UTC and b.due_at.microsecond == 7
    assert b.note == "改一下 'quoted' <b>" and b.subject == "周报 ? $1"


async def test_whats_due_objects_behave_as_loaded_ones(any_db):
    """The tasks come back as the session's own persistent objects: pending changes are
    flushed first, an object the session holds is that object (filled in if it was
    expired), and a change to one is saved by the next commit."""
    async with seeded(any_db) as sessions:
        async with sessions() as session:
            held = (await session.exec(select(Task).where(Task.duty_key == "a"))).one()
            done = (await session.exec(select(Task).where(Task.duty_key == "d"))).one()
            done.status = "done"  # not flushed yet: the read must see it
            session.add(_task(duty_key="new", assignee_open_id="ou_1", due_at=NOW))
            tasks = await list_open_tasks(session, "ou_1")
            assert [t.duty_key for t in tasks] == ["c", "new", "b", "a"]
            assert tasks[-1] is held
            session.expire(held)
            again = await list_open_tasks(session, "ou_1")
            assert again[-1] is held and held.due_at == NOW + timedelta(days=2)  # no lazy load
            tasks[0].note = "looked at"
            await session.commit()
        async with sessions() as session:
            c = (await session.exec(select(Task).where(Task.duty_key == "c"))).one()
            d = (await session.exec(select(Task).where(Task.duty_key == "d"))).one()
    assert c.note == "looked at" and d.status == "done"


async def test_due_now_gives_what_the_statement_gives(any_db):
    async with seeded(any_db) as sessions:
        async with sessions() as session:
            fast = sorted(tuple(r) for r in await tasks_due_now(session, NOW))
            conn = await session.connection()
            slow = sorted(tuple(r) for r in (await conn.execute(due_now_query(NOW))).all())
            ops = await tasks_due_now(session, NOW + timedelta(days=9), "ops")
    assert fast == slow and [r[1] for r in fast] == ["a", "b", "d", "f"]  # c: submitted
    for f, s in zip(fast, slow, strict=True):
        assert [type(v) for v in f] == [type(v) for v in s]
        assert all(v.tzinfo is UTC for v in f if isinstance(v, datetime))
    assert [r.duty_key for r in ops] == ["b"]


@pytest.mark.parametrize(
    "text",
    [
        None,
        "2026-12-07 02:00:00.000000",
        "2026-12-07 02:00:00.000007",
        "1970-01-01 00:00:00.000000",
        "2026-12-07 02:00:00",
        "2026-12-07T02:00",
        "2026-12-07",
        "2026-12-07 10:00:00+08:00",
        "2026-12-07 02:00:00Z",
        "2026-12-06 21:00:00.5-05:00",
        "not a time",
        b"2026-12-07 02:00:00",
        7,
    ],
)
def test_utc_datetimes_from_sqlite_text_are_what_sqlalchemy_would_make(text):
    from sqlalchemy.dialects import sqlite

    _same_as_type_decorator(sqlite.dialect(), text)


@pytest.mark.parametrize(
    "value",
    [
        None,
        datetime(2026, 12, 7, 2, tzinfo=UTC),
        datetime(2026, 12, 7, 10, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 12, 7, 2, 0, 0, 7),
        "2026-12-07 02:00:00",
    ],
)
def test_utc_datetimes_from_asyncpg_are_what_sqlalchemy_would_make(value):
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    _same_as_type_decorator(dialect(), value)


def _same_as_type_decorator(dialect, value):
    """UTCDateTime's one-call processor against TypeDecorator's own composition (the
    dialect's processor, then process_result_value): same value, tzinfo, or error."""
    from storage.models import UTCDateTime

    impl = UTCDateTime().dialect_impl(dialect)
    ours = impl.result_processor(dialect, None)
    parse = impl.impl_instance.result_processor(dialect, None) or (lambda v: v)

    def theirs(value):
        return impl.process_result_value(parse(value), dialect)

    text = value
    try:
        expected = theirs(text)
    except Exception as exc:  # noqa: BLE001 - the same kind of error, then
        with pytest.raises(type(exc)):
            ours(text)
        return
    got = ours(text)
    assert got == expected and type(got) is type(expected)
    if expected is not None:
        assert got.tzinfo is expected.tzinfo is UTC and got.utcoffset() == expected.utcoffset()


async def test_a_dropped_connection_costs_the_tick_at_most_one_read(pg_url):
    """Connections used a moment ago are not pinged on checkout. When the server drops
    them, the read that finds out fails like any statement on a dead connection, the pool
    retires every connection older than that, and the next read works; a connection idle
    for longer is pinged and replaced without anyone noticing."""
    import asyncpg

    from tests.conftest import _pg_admin

    admin = await _pg_admin()
    name = pg_url.rsplit("/", 1)[1]

    async def failures_after_a_drop(**kwargs) -> int:
        engine = db.make_engine(pg_url, **kwargs)
        sessions = db.make_session_factory(engine)

        async def read() -> int:
            async with sessions() as session:
                return len(await tasks_due_now(session, NOW))

        try:
            assert await read() == 4
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            failures = 0
            for _ in range(3):
                try:
                    assert await read() == 4
                except (DBAPIError, asyncpg.PostgresError, OSError):
                    failures += 1
            return failures
        finally:
            await engine.dispose()

    engine = db.make_engine(pg_url)
    await db.upgrade(engine)
    async with db.make_session_factory(engine)() as session:
        session.add_all(_mixed_tasks())
        await session.commit()
    await engine.dispose()
    try:
        assert await failures_after_a_drop() <= 1  # used a moment ago: not pinged
        assert await failures_after_a_drop(idle_ping_s=0) == 0  # "idle": pinged, replaced
    finally:
        await admin.close()


async def test_click_reads_give_what_the_orm_gives(any_db):
    """The click path's reads (storage.driver_reads.get / load: members, tasks, reports,
    report and task, submission times, a card's sent id) give the objects and values the
    ORM queries give, on SQLite and PostgreSQL, and the session's own object when it holds
    one."""
    from sqlalchemy.orm.attributes import instance_dict

    from storage import driver_reads
    from storage.members import first_member_with_role, get_member
    from storage.models import Member, OutboundMessage, Report, ReportVersion
    from storage.outbox import sent_message_id
    from storage.people import people
    from storage.reports import report_and_task, report_for_task, versions_submitted_at
    from storage.tasks import get_task

    engine = db.make_engine(any_db)
    await db.upgrade(engine)
    sessions = db.make_session_factory(engine)
    try:
        async with sessions() as s:
            for i, role in enumerate(("manager", "director", "director")):
                s.add(
                    Member(
                        open_id=f"ou_{i}",
                        name=f"名{i}",
                        role_key=role,
                        is_admin=i == 1,
                        active=i != 2,
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
            s.add(_task(duty_key="d", assignee_open_id="ou_0", original_due_at=NOW))
            await s.commit()
            task_id = (await s.exec(select(Task.id))).one()
            s.add(
                Report(
                    task_id=task_id,
                    duty_key="d",
                    author_open_id="ou_0",
                    approver_open_id=None,
                    values='{"a": 1}',
                    kpis="[]",
                    submitted_at=NOW,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            await s.commit()
            report_id = (await s.exec(select(Report.id))).one()
            s.add(
                ReportVersion(
                    report_id=report_id,
                    version=1,
                    values="{}",
                    submitted_at=NOW - timedelta(hours=1),
                    via="form",
                )
            )
            s.add(
                OutboundMessage(
                    uuid="u1",
                    kind="send",
                    content="{}",
                    status="sent",
                    created_at=NOW,
                    next_attempt_at=NOW,
                    feishu_message_id="om_1",
                )
            )
            await s.commit()

        def state(obj) -> dict:
            return {k: v for k, v in instance_dict(obj).items() if not k.startswith("_")}

        async with sessions() as fast, sessions() as orm:
            pairs = [
                (await get_member(fast, "ou_0"), await orm.get(Member, "ou_0")),
                (await get_task(fast, task_id), await orm.get(Task, task_id)),
                (await report_for_task(fast, task_id), await orm.get(Report, report_id)),
                (
                    await first_member_with_role(fast, "director", "default"),
                    await orm.get(Member, "ou_1"),
                ),
            ]
            report, task = await report_and_task(fast, report_id)
            pairs += [
                (report, await orm.get(Report, report_id)),
                (task, await orm.get(Task, task_id)),
            ]
            for got, want in pairs:
                assert state(got) == state(want)
                assert {type(v) for v in state(got).values()} == {
                    type(v) for v in state(want).values()
                }
            assert await get_member(fast, "ou_2") is None  # not active
            assert set(await people(fast, {"ou_0", "ou_2", "ou_9"})) == {"ou_0", "ou_2"}
            assert await versions_submitted_at(fast, report_id, {1, 2}) == {
                1: NOW - timedelta(hours=1)
            }
            assert await sent_message_id(fast, "u1") == ("sent", "om_1")
            assert await sent_message_id(fast, "u2") == ("missing", None)
            held = await driver_reads.get(fast, Task, task_id)
            assert held is task  # the session's own object
    finally:
        await engine.dispose()


async def test_sqlite_reads_run_on_the_loop_thread_and_never_wait_there(db_url, monkeypatch):
    """The hot reads skip aiosqlite's thread; a read that would wait for a lock (or a
    connection that may not be used from this thread) goes to that thread as before, with
    the same rows, and the connection keeps its busy timeout."""
    import sqlite3
    import threading

    handed: list[str] = []
    fetchall = aiosqlite.Connection.execute_fetchall

    async def counted(self, sql, parameters=None):
        handed.append(sql)
        return await fetchall(self, sql, parameters)

    monkeypatch.setattr(aiosqlite.Connection, "execute_fetchall", counted)
    loop_thread = threading.get_ident()

    class LockedForTheLoop:  # what SQLITE_BUSY looks like to a read on the loop's thread
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            if threading.get_ident() == loop_thread and not sql.startswith("PRAGMA"):
                raise sqlite3.OperationalError("database is locked")
            return self.conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    async def reads(engine) -> tuple[list, list]:
        sessions = db.make_session_factory(engine)
        async with sessions() as session:
            return await tasks_due_now(session, NOW), await list_open_tasks(session, "ou_1")

    engine = db.make_engine(db_url)
    strict = db.make_engine(db_url, connect_args={"timeout": 30, "check_same_thread": True})
    try:
        async with db.make_session_factory(engine)() as session:
            session.add_all(_mixed_tasks())
            await session.commit()
        due, whats = await reads(engine)
        assert handed == []
        assert sorted(r.duty_key for r in due) == ["a", "b", "d", "f"]
        assert [t.duty_key for t in whats] == ["c", "d", "b", "a"]
        due2, whats2 = await reads(strict)
        assert len(handed) == 2 and due2 == due
        assert [_values(t) for t in whats2] == [_values(t) for t in whats]
        handed.clear()
        async with db.make_session_factory(engine)() as session:
            driver = (await (await session.connection()).get_raw_connection()).driver_connection
            real = driver._connection
            driver._connection = LockedForTheLoop(real)
            try:
                assert await tasks_due_now(session, NOW) == due
            finally:
                driver._connection = real
            assert len(handed) == 1
            assert real.execute("PRAGMA busy_timeout").fetchone() == (30000,)
    finally:
        await engine.dispose()
        await strict.dispose()


async def test_hot_reads_leave_no_cyclic_garbage(any_db):
    """A session that made the hot reads is freed when it closes, not by the collector:
    its pauses were the due queries' p99 (bench/due_query.py)."""
    import gc

    async with seeded(any_db) as sessions:

        async def reads() -> None:
            for _ in range(20):
                async with sessions() as session:
                    await tasks_due_now(session, NOW)
                async with sessions() as session:
                    await list_open_tasks(session, "ou_1")

        await reads()  # warm
        gc.collect()
        gc.disable()
        try:
            await reads()
            assert gc.collect() == 0
        finally:
            gc.enable()
