"""Reads for the commands that read and exit (`dutybot tasks list`, `leave list`, `ledger
export`, `activity list`, `policy diff`, `policy show --department`, `org export`), without SQLAlchemy, SQLModel or the models: importing those
costs a process ~0.5 s of CPU, more than these reads.

On SQLite (a plain file URL, the database at the shipped head) the statements run on the
standard library's sqlite3; otherwise on a SQLAlchemy connection as text (`EngineReader`,
after the usual schema check). The SQL names the columns storage.models declares, and
values come back as the ORM reads give them: datetimes UTC-aware, dates, bools (SQLite
stores them as SQLAlchemy wrote them: naive UTC text, ISO dates, 0/1).
tests/test_plain_reads.py compares every read with its SQLAlchemy counterpart, row for
row, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from bot.domain.departments import Department, Policies
from storage.schema import shipped_head
from storage.status import TaskStatus

CHUNK = 500  # ids per IN (...), as storage.digests.reports_for_tasks reads them


def _ts(value: Any) -> datetime | None:
    """A UTCDateTime column's value: SQLite's text parsed as SQLAlchemy 2 does
    (datetime.fromisoformat), naive read as UTC, aware converted to UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:  # naive UTC text, as we store it, in one call (as storage.models.UTCDateTime)
            parsed = datetime.fromisoformat(value + "+00:00")
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is UTC:
            return parsed
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


class Reader:
    """Runs a SELECT with named parameters (`:name`) and returns plain tuples."""

    sqlite = True  # how datetimes and dates are bound: SQLite's stored text, else objects

    async def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        raise NotImplementedError

    def instant(self, value: datetime) -> Any:
        """A UTCDateTime parameter as the column stores it."""
        value = value.astimezone(UTC)
        if not self.sqlite:
            return value
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def day(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value


class SqliteReader(Reader):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return self.conn.execute(sql, params or {}).fetchall()


class EngineReader(Reader):
    """On a SQLAlchemy AsyncConnection (PostgreSQL, or SQLite that is not a plain file)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"

    async def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        from sqlalchemy import text

        return [tuple(r) for r in (await self.conn.execute(text(sql), params or {})).all()]


def sqlite_file(url: str) -> str | None:
    """The file of a plain SQLite URL (`sqlite+aiosqlite:///dutybot.db`, absolute with four
    slashes); None for anything else (memory, query options, escapes): SQLAlchemy opens those."""
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if path and path != ":memory:" and not any(c in path for c in "?%#"):
                return path
    return None


def open_at_head(path: str) -> sqlite3.Connection | None:
    """A connection to an existing SQLite file whose schema is plainly at the shipped head;
    None otherwise (no file, not a database, behind, ahead): then the caller goes through
    storage.db, which creates, upgrades or refuses with the reason, as every command does."""
    head = shipped_head()
    if head is None:
        return None
    try:  # mode=rw: never create the file here; the busy timeout is the engine's
        conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        rows = []
    if rows != [(head,)]:
        conn.close()
        return None
    return conn


def _in(name: str, values: Sequence) -> tuple[str, dict[str, Any]]:
    """`:name0, :name1, …` and their parameters, for IN (...)."""
    params = {f"{name}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params), params


# -- departments, members, activities, leave ------------------------------------------------


async def load_policies(reader: Reader, default) -> Policies:
    """storage.departments.load_policies: every active department's stored policy."""
    rows = await reader.rows(
        "SELECT key, name, policy_path, policy_text FROM departments "
        "WHERE active = :active ORDER BY created_at",
        {"active": True},
    )
    return policies_from_rows(default, rows)


def policies_from_rows(default, rows: Iterable[tuple[str, str, str, str]]) -> Policies:
    """Policies of (key, name, policy_path, policy_text) rows; a stored policy that no
    longer reads is left out (its department falls back to the default)."""
    from bot.domain.policy import PolicyError, loads_policy

    departments = []
    for key, name, policy_path, policy_text in rows:
        try:
            policy = loads_policy(policy_text, policy_path or key)
        except PolicyError:
            continue
        departments.append(Department(key, name, policy))
    return Policies(default, tuple(departments))


async def department_files(reader: Reader) -> dict[str, str]:
    """The policy file of every active department, as the last `org sync` recorded it."""
    rows = await reader.rows(
        "SELECT key, policy_path FROM departments WHERE active = :active", {"active": True}
    )
    return dict(rows)


async def all_names(reader: Reader) -> list[tuple[str, str, bool]]:
    """storage.members.all_names: (open_id, name, active) of everyone past and present."""
    rows = await reader.rows("SELECT open_id, name, active FROM members")
    return [(o, name, _bool(active)) for o, name, active in rows]


class MemberRow(NamedTuple):
    open_id: str
    name: str
    active: bool
    role_key: str


async def all_members(reader: Reader) -> list[MemberRow]:
    """storage.ledger.all_members."""
    rows = await reader.rows("SELECT open_id, name, active, role_key FROM members")
    return [MemberRow(o, n, _bool(a), r) for o, n, a, r in rows]


async def activity_titles(reader: Reader, ids: set[int]) -> dict[int, str]:
    """storage.activities.activity_titles."""
    out: dict[int, str] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), CHUNK):
        marks, params = _in("id", ordered[i : i + CHUNK])
        rows = await reader.rows(f"SELECT id, title FROM activities WHERE id IN ({marks})", params)
        out.update((a, title) for a, title in rows if a is not None)
    return out


class ActivityRow(NamedTuple):
    id: int
    title: str
    start_date: date
    end_date: date
    owner_open_id: str
    status: str


async def list_activities(reader: Reader, *, include_cancelled: bool = False) -> list[ActivityRow]:
    """storage.activities.list_activities (the columns `activity list` shows)."""
    sql = "SELECT id, title, start_date, end_date, owner_open_id, status FROM activities"
    params = {}
    if not include_cancelled:
        sql += " WHERE status != :cancelled"
        params["cancelled"] = "cancelled"
    rows = await reader.rows(sql + " ORDER BY start_date, id", params)
    return [ActivityRow(i, t, _date(s), _date(e), o, st) for i, t, s, e, o, st in rows]


async def activity_task_states(reader: Reader, ids: list[int]) -> dict[int, list[str]]:
    """The states of each activity's tasks (storage.activities.activity_tasks, counted)."""
    out: dict[int, list[str]] = {i: [] for i in ids}
    for i in range(0, len(ids), CHUNK):
        marks, params = _in("activity", ids[i : i + CHUNK])
        sql = f"SELECT activity_id, status FROM tasks WHERE activity_id IN ({marks})"
        for activity_id, status in await reader.rows(sql, params):
            out[activity_id].append(status)
    return out


class LeaveRow(NamedTuple):
    open_id: str
    start_date: date
    end_date: date


async def list_leave(reader: Reader, since: date) -> list[LeaveRow]:
    """storage.leave.list_leave(since=…): leave ending on or after `since`."""
    rows = await reader.rows(
        "SELECT open_id, start_date, end_date FROM leaves WHERE end_date >= :since "
        "ORDER BY start_date, open_id",
        {"since": reader.day(since)},
    )
    return [LeaveRow(o, _date(s), _date(e)) for o, s, e in rows]


async def all_leave(reader: Reader) -> list[tuple[str, date, date]]:
    """storage.ledger.all_leave."""
    rows = await reader.rows("SELECT open_id, start_date, end_date FROM leaves")
    return [(o, _date(s), _date(e)) for o, s, e in rows]


# -- tasks and reports ---------------------------------------------------------------------


class OpenTask(NamedTuple):
    """storage.tasks.OPEN_LIST_COLUMNS."""

    id: int
    duty_key: str
    assignee_open_id: str
    activity_id: int | None
    period_key: str
    due_at: datetime
    status: str
    department: str


async def list_open(
    reader: Reader, assignee: str | None = None, department: str | None = None
) -> list[OpenTask]:
    """storage.tasks.list_open: open tasks (open, submitted, rejected), soonest first."""
    marks, params = _in("status", TaskStatus.OPEN_STATES)
    sql = (
        "SELECT id, duty_key, assignee_open_id, activity_id, period_key, due_at, status, "
        f"department FROM tasks WHERE status IN ({marks})"
    )
    if assignee:
        sql += " AND assignee_open_id = :assignee"
        params["assignee"] = assignee
    if department:
        sql += " AND department = :department"
        params["department"] = department
    rows = await reader.rows(sql + " ORDER BY due_at, id", params)
    return [OpenTask(*r[:5], _ts(r[5]), *r[6:]) for r in rows]


class LedgerTask(NamedTuple):
    """storage.ledger.LEDGER_TASK_COLUMNS."""

    id: int
    duty_key: str
    assignee_open_id: str
    period_key: str
    department: str
    due_at: datetime
    status: str
    done_at: datetime | None
    updated_at: datetime


async def ledger_tasks(
    reader: Reader,
    lo: datetime | None,
    hi: datetime | None,
    *,
    duty_keys: set[str] | None = None,
    assignee: str | None = None,
    department: str | None = None,
) -> list[LedgerTask]:
    """storage.ledger.ledger_tasks: tasks due in [lo, hi), oldest due first."""
    where, params = [], {}
    if lo is not None:
        where.append("due_at >= :lo")
        params["lo"] = reader.instant(lo)
    if hi is not None:
        where.append("due_at < :hi")
        params["hi"] = reader.instant(hi)
    if duty_keys is not None:
        if duty_keys:
            marks, keys = _in("duty", sorted(duty_keys))
            where.append(f"duty_key IN ({marks})")
            params.update(keys)
        else:  # IN () of nothing: no rows, as SQLAlchemy's empty IN
            where.append("1 != 1")
    if assignee is not None:
        where.append("assignee_open_id = :assignee")
        params["assignee"] = assignee
    if department is not None:
        where.append("department = :department")
        params["department"] = department
    sql = (
        "SELECT id, duty_key, assignee_open_id, period_key, department, due_at, status, "
        "done_at, updated_at FROM tasks"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = await reader.rows(sql + " ORDER BY due_at, id", params)
    return [LedgerTask(*r[:5], _ts(r[5]), r[6], _ts(r[7]), _ts(r[8])) for r in rows]


class ReportRow(NamedTuple):
    """Every column of storage.models.Report."""

    id: int
    task_id: int
    duty_key: str
    author_open_id: str
    approver_open_id: str | None
    status: str
    version: int
    values: str
    kpis: str
    submitted_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    comment: str | None
    approver_card_uuid: str | None
    author_card_uuid: str | None
    created_at: datetime
    updated_at: datetime


_REPORT_TIMES = {"submitted_at", "decided_at", "created_at", "updated_at"}


async def reports_for_tasks(reader: Reader, task_ids: list[int]) -> dict[int, ReportRow]:
    """storage.digests.reports_for_tasks: each task's report, by task id."""
    columns = ", ".join(f'"{name}"' for name in ReportRow._fields)  # "values" is a keyword
    times = [i for i, name in enumerate(ReportRow._fields) if name in _REPORT_TIMES]
    out: dict[int, ReportRow] = {}
    for i in range(0, len(task_ids), CHUNK):
        marks, params = _in("task", task_ids[i : i + CHUNK])
        for row in await reader.rows(
            f"SELECT {columns} FROM reports WHERE task_id IN ({marks})", params
        ):
            values = list(row)
            for t in times:
                values[t] = _ts(values[t])
            report = ReportRow(*values)
            out[report.task_id] = report
    return out


async def open_tasks_by_duty(reader: Reader, department: str | None = None) -> dict[str, int]:
    """Open tasks (open, submitted, rejected) per duty key, of one department or all."""
    marks, params = _in("status", TaskStatus.OPEN_STATES)
    sql = f"SELECT duty_key, count(*) FROM tasks WHERE status IN ({marks})"
    if department is not None:
        sql += " AND department = :department"
        params["department"] = department
    return dict(await reader.rows(sql + " GROUP BY duty_key", params))


async def active_members_by_role(reader: Reader, department: str | None = None) -> dict[str, int]:
    """Active members per role key, of one department or all."""
    sql, params = "SELECT role_key, count(*) FROM members WHERE active = :active", {"active": True}
    if department is not None:
        sql += " AND department = :department"
        params["department"] = department
    return dict(await reader.rows(sql + " GROUP BY role_key", params))


async def export_team(reader: Reader) -> dict:
    """The team as the TOML team-file structure (departments, members, chats, leave), for
    `dutybot org export`."""
    active = {"active": True}
    departments = [
        {"key": key, "name": name, "policy": policy_path}
        for key, name, policy_path in await reader.rows(
            "SELECT key, name, policy_path FROM departments WHERE active = :active "
            "ORDER BY created_at",
            active,
        )
    ]
    members = await reader.rows(
        "SELECT open_id, name, role_key, department, manager_open_id, is_admin FROM members "
        "WHERE active = :active ORDER BY role_key, name",
        active,
    )
    leaves = await reader.rows(
        "SELECT open_id, start_date, end_date FROM leaves ORDER BY start_date"
    )
    chats = await reader.rows(
        "SELECT chat_id, name, is_team, department FROM chats WHERE active = :active ORDER BY name",
        active,
    )
    out_members = []
    for open_id, name, role_key, department, manager, is_admin in members:
        entry: dict = {"open_id": open_id, "name": name, "role": role_key}
        if departments:
            entry["department"] = department
        if manager:
            entry["manager"] = manager
        if _bool(is_admin):
            entry["admin"] = True
        spans = [
            [_date(start).isoformat(), _date(end).isoformat()]
            for who, start, end in leaves
            if who == open_id
        ]
        if spans:
            entry["leave"] = spans
        out_members.append(entry)
    out_chats = []
    for chat_id, name, is_team, department in chats:
        chat: dict = {"chat_id": chat_id, "name": name, "team": _bool(is_team)}
        if departments:
            chat["department"] = department
        out_chats.append(chat)
    out = {"departments": departments} if departments else {}
    return {**out, "members": out_members, "chats": out_chats}
