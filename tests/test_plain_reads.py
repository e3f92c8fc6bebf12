"""storage.plain (the reads of `dutybot tasks list`, `leave list`, `activity list`, `ledger
export`, `policy diff`, `org export` without SQLAlchemy) gives what the ORM reads give, row for row and type for type:
on SQLite through sqlite3 and through the engine, on PostgreSQL through the engine. And
those commands, in a fresh interpreter, import neither SQLAlchemy nor the ORM."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.policy import load_policy
from storage import db, plain
from storage.activities import activity_tasks, activity_titles, list_activities
from storage.departments import load_policies
from storage.digests import reports_for_tasks
from storage.leave import list_leave
from storage.ledger import all_leave, all_members, ledger_tasks
from storage.members import all_names
from storage.models import Activity, Chat, Department, Leave, Member, Report, Task
from storage.status import TaskStatus
from storage.tasks import list_open

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "bot" / "policies" / "marketing.toml"
T0 = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)


async def _fill(session) -> None:
    """Members past and present, three departments (one inactive, one whose stored policy
    no longer reads), activities, tasks in every state (with and without an activity, due
    times with and without microseconds), reports decided and not, leave."""
    text = POLICY_FILE.read_text(encoding="utf-8")
    for i, (key, active, body) in enumerate(
        [("sales", True, text), ("gone", False, text), ("broken", True, "[[roles]]\nkey = 1\n")]
    ):
        at = T0 + timedelta(minutes=i)
        session.add(
            Department(
                key=key, name=key.title(), policy_path=f"{key}.toml", policy_text=body,
                active=active, created_at=at, updated_at=at,
            )
        )  # fmt: skip
    for i, (oid, name, active) in enumerate(
        [("ou_a", "王策划", True), ("ou_b", "Brand", False), ("ou_c", "李经理", True)]
    ):
        session.add(
            Member(
                open_id=oid, name=name, role_key="planner", active=active,
                department="sales" if i == 2 else "default", created_at=T0, updated_at=T0,
                is_admin=i == 0, manager_open_id="ou_c" if i == 0 else None,
            )
        )  # fmt: skip
    session.add_all(
        [
            Chat(chat_id="oc_1", name="Team", is_team=True, department="sales",
                 created_at=T0, updated_at=T0),
            Chat(chat_id="oc_2", name="Old", active=False, created_at=T0, updated_at=T0),
        ]
    )  # fmt: skip
    session.add_all(
        [
            Activity(id=1, title="Expo", start_date=date(2026, 12, 20), end_date=date(2026, 12, 21),
                     owner_open_id="ou_a", created_at=T0, updated_at=T0),
            Activity(id=2, title="Old", start_date=date(2026, 11, 1), end_date=date(2026, 11, 2),
                     owner_open_id="ou_c", status="cancelled", created_at=T0, updated_at=T0),
        ]
    )  # fmt: skip
    states = [*TaskStatus.OPEN_STATES, TaskStatus.DONE, TaskStatus.CANCELLED, TaskStatus.APPROVED]
    n = 0
    for day in range(4):
        for who in ("ou_a", "ou_b", "ou_c"):
            for duty in ("planner.weekly", "planner.event_brief"):
                n += 1
                due = T0 + timedelta(days=day, hours=n % 3) - timedelta(microseconds=n % 2 * 456789)
                status = states[n % len(states)]
                session.add(
                    Task(
                        id=n, duty_key=duty, assignee_open_id=who, period_key=f"p{n}",
                        activity_id=(1 if n % 4 == 0 else 2 if n % 7 == 0 else None),
                        department="sales" if who == "ou_c" else "default", due_at=due,
                        status=status, created_at=T0, updated_at=T0 + timedelta(seconds=n),
                        done_at=due - timedelta(hours=1) if status == TaskStatus.DONE else None,
                    )
                )  # fmt: skip
                if n % 3 == 0:
                    session.add(
                        Report(
                            task_id=n, duty_key=duty, author_open_id=who,
                            approver_open_id="ou_c" if n % 2 else None,
                            status="approved" if n % 2 else "submitted", values='{"a": 1}',
                            kpis='[{"k": "x"}]', submitted_at=due - timedelta(minutes=5),
                            decided_at=due if n % 2 else None, decided_by="ou_c" if n % 2 else None,
                            comment="好" if n % 2 else None, created_at=T0, updated_at=T0,
                        )
                    )  # fmt: skip
    for oid, start, end in [
        ("ou_a", date(2026, 12, 1), date(2026, 12, 3)),
        ("ou_b", date(2026, 12, 7), date(2026, 12, 9)),
        ("ou_a", date(2026, 12, 20), date(2026, 12, 20)),
    ]:
        session.add(Leave(open_id=oid, start_date=start, end_date=end, created_at=T0))
    await session.commit()


@pytest.fixture(params=["sqlite3", "sqlite-engine", "postgresql"])
def database(request, db_url) -> tuple[str, str]:
    """(how storage.plain reads it, URL); PostgreSQL is skipped, saying why, without a server."""
    return request.param, request.getfixturevalue(
        "pg_url"
    ) if request.param == "postgresql" else db_url


@pytest.fixture
async def filled(database):
    """(ORM session, storage.plain reader) on the same filled database."""
    kind, url = database
    engine = db.make_engine(url)
    await db.upgrade(engine)
    try:
        async with db.make_session_factory(engine)() as session:
            await _fill(session)
        async with db.make_session_factory(engine)() as session:
            if kind == "sqlite3":
                conn = plain.open_at_head(plain.sqlite_file(url))
                assert conn is not None
                try:
                    yield session, plain.SqliteReader(conn)
                finally:
                    conn.close()
            else:
                async with engine.connect() as connection:
                    yield session, plain.EngineReader(connection)
    finally:
        await engine.dispose()


def _typed(rows) -> list[tuple]:
    """Rows as tuples of (type, value): a string where a datetime belongs would differ."""
    return [tuple((type(v), v) for v in row) for row in rows]


async def test_task_reads_match_the_orm(filled):
    session, reader = filled
    for kw in ({}, {"assignee": "ou_a"}, {"department": "sales"}, {"assignee": "ou_x"}):
        orm = await list_open(session, kw.get("assignee"), department=kw.get("department"))
        ours = await plain.list_open(reader, kw.get("assignee"), department=kw.get("department"))
        assert _typed(ours) == _typed(orm), kw
    assert any(r.activity_id for r in await plain.list_open(reader))
    lo, hi = T0 + timedelta(days=1), T0 + timedelta(days=3)
    for kw in (
        {},
        {"lo": lo, "hi": hi},
        {"lo": T0 - timedelta(microseconds=456789)},
        {"duty_keys": {"planner.weekly"}, "assignee": "ou_b"},
        {"duty_keys": set()},
        {"department": "sales", "hi": hi},
    ):
        args = (kw.pop("lo", None), kw.pop("hi", None))
        orm = await ledger_tasks(session, *args, **kw)
        ours = await plain.ledger_tasks(reader, *args, **kw)
        assert _typed(ours) == _typed(orm), (args, kw)
    ids = [r.id for r in await plain.ledger_tasks(reader, None, None)]
    assert len(ids) == 24
    orm_reports = await reports_for_tasks(session, ids)
    ours_reports = await plain.reports_for_tasks(reader, ids)
    assert orm_reports.keys() == ours_reports.keys() and len(ours_reports) == 8
    for task_id, report in ours_reports.items():
        orm = orm_reports[task_id]
        assert _typed([report]) == _typed([tuple(getattr(orm, f) for f in report._fields)])


async def test_people_activity_and_leave_reads_match_the_orm(filled):
    session, reader = filled
    assert _typed(sorted(await plain.all_names(reader))) == _typed(
        sorted(tuple(r) for r in await all_names(session))
    )
    assert _typed(sorted(await plain.all_members(reader))) == _typed(
        sorted(tuple(r) for r in await all_members(session))
    )
    assert _typed(sorted(await plain.all_leave(reader))) == _typed(
        sorted(tuple(r) for r in await all_leave(session))
    )
    since = date(2026, 12, 8)
    orm = [(lv.open_id, lv.start_date, lv.end_date) for lv in await list_leave(session, since)]
    assert _typed(await plain.list_leave(reader, since)) == _typed(orm) and len(orm) == 2
    for include in (False, True):
        orm = [
            (a.id, a.title, a.start_date, a.end_date, a.owner_open_id, a.status)
            for a in await list_activities(session, include_cancelled=include)
        ]
        ours = await plain.list_activities(reader, include_cancelled=include)
        assert _typed(ours) == _typed(orm)
        states = await plain.activity_task_states(reader, [a.id for a in ours])
        for a in ours:
            expected = [t.status for t in await activity_tasks(session, a.id)]
            assert sorted(states[a.id]) == sorted(expected) and expected
    assert await plain.activity_titles(reader, {1, 2, 99}) == await activity_titles(
        session, {1, 2, 99}
    )
    assert await plain.activity_titles(reader, set()) == {}


async def test_counts_for_policy_diff_match_the_orm(filled):
    from collections import Counter

    from sqlmodel import select

    session, reader = filled
    members = (await session.exec(select(Member))).all()
    for department in (None, "sales", "nowhere"):
        tasks = await list_open(session, department=department)
        expected = Counter(t.duty_key for t in tasks)
        assert await plain.open_tasks_by_duty(reader, department) == expected
        expected = Counter(
            m.role_key for m in members if m.active and department in (None, m.department)
        )
        assert await plain.active_members_by_role(reader, department) == expected
    assert await plain.department_files(reader) == {"sales": "sales.toml", "broken": "broken.toml"}


async def test_org_export_reads_the_team_file_back(filled):
    """What `org export` writes (round trips through `org sync`: tests/test_departments.py)."""
    _, reader = filled
    team = await plain.export_team(reader)
    assert team["departments"] == [
        {"key": "sales", "name": "Sales", "policy": "sales.toml"},
        {"key": "broken", "name": "Broken", "policy": "broken.toml"},
    ]
    assert sorted(team["members"], key=lambda m: m["open_id"]) == [
        {"open_id": "ou_a", "name": "王策划", "role": "planner", "department": "default",
         "manager": "ou_c", "admin": True,
         "leave": [["2026-12-01", "2026-12-03"], ["2026-12-20", "2026-12-20"]]},
        {"open_id": "ou_c", "name": "李经理", "role": "planner", "department": "sales"},
    ]  # fmt: skip
    assert team["chats"] == [
        {"chat_id": "oc_1", "name": "Team", "team": True, "department": "sales"}
    ]


async def test_department_policies_match_the_orm(filled):
    session, reader = filled
    default = load_policy(POLICY_FILE)
    orm, ours = await load_policies(session, default), await plain.load_policies(reader, default)
    assert ours.declared == orm.declared == ("sales",)  # inactive and unreadable left out
    assert ours.get("sales").duties.keys() == orm.get("sales").duties.keys()


def test_stored_text_reads_as_the_column_type_reads_it():
    from sqlalchemy.dialects import sqlite

    from storage.models import UTCDateTime

    dialect = sqlite.dialect()
    column = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    for text in ("2026-12-07 01:02:03.456789", "2026-12-07 01:02:03", "2026-12-07T01:02:03",
                 "2026-12-07 09:02:03+08:00", "2026-12-07", None):  # fmt: skip
        ours, theirs = plain._ts(text), column(text)
        assert ours == theirs and getattr(ours, "tzinfo", None) is getattr(theirs, "tzinfo", None)


def test_a_sqlite_file_not_at_the_head_is_left_to_storage_db(tmp_path, db_url):
    path = plain.sqlite_file(db_url)
    assert path is not None and plain.open_at_head(path) is not None
    assert plain.open_at_head(str(tmp_path / "missing.db")) is None
    assert not (tmp_path / "missing.db").exists()  # never created here
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = 'older'")
    conn.commit()
    conn.close()
    assert plain.open_at_head(path) is None
    for url in ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///a.db?mode=ro",
                "postgresql+asyncpg://u@h/d", "sqlite+aiosqlite:///a%20b.db"):  # fmt: skip
        assert plain.sqlite_file(url) is None
    assert plain.sqlite_file("sqlite+aiosqlite:////tmp/x.db") == "/tmp/x.db"
    assert plain.sqlite_file("sqlite+aiosqlite:///x.db") == "x.db"


# What the commands that only read must not load: the ORM, migrations, serving, documents,
# and on SQLite not even an event loop (asyncio and ssl: ~0.04 s).
NOT_FOR_READING = ("sqlalchemy", "sqlmodel", "alembic", "aiosqlite", "storage.models",
                   "bot.dispatch", "lark_oapi", "aiohttp", "openpyxl", "docx", "asyncio")  # fmt: skip


@pytest.mark.parametrize(
    "argv, exit_code",
    [
        (["tasks", "list"], 0),
        (["leave", "list"], 0),
        (["activity", "list"], 0),
        (["ledger", "export", "ledger.csv"], 0),
        (["policy", "diff", str(POLICY_FILE), str(POLICY_FILE)], 0),
        (["policy", "show", "--department", "sales"], 2),  # none synced: read, then refused
        (["org", "export", "team.toml"], 0),
    ],
)
def test_the_reading_commands_import_no_orm(argv, exit_code, db_url, tmp_path):
    """A fresh interpreter (this one has loaded everything): the command runs, and none of
    NOT_FOR_READING is in sys.modules afterwards."""
    code = f"""
import sys
from bot.cli.main import main
code = main({argv!r})
loaded = sorted({{m for m in sys.modules for bad in {NOT_FOR_READING!r}
                 if m == bad or m.startswith(bad + ".")}})
print("LOADED", loaded)
raise SystemExit(code)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "DUTYBOT_"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=db_url, FEISHU_APP_ID="cli_x",
               FEISHU_APP_SECRET="s", FEISHU_VERIFICATION_TOKEN="t")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == exit_code, result.stderr
    assert "LOADED []" in result.stdout, result.stdout[-2000:]
