"""Reports and their versions. Every state change is one conditional UPDATE, so a double
click, two approvers at once or a click on an old card changes a report at most once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import driver_reads
from storage.driver_writes import write_returning, write_soon
from storage.models import Report, ReportStatus, ReportVersion, Task, TaskStatus


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | None, default: Any) -> Any:
    try:
        value = json.loads(text or "")
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


async def get_report(session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id)


async def reload(session: AsyncSession, report: Report) -> Report:
    """The row as committed now (another click may have changed it)."""
    await session.refresh(report)
    return report


async def report_for_task(session: AsyncSession, task_id: int) -> Report | None:
    found = await driver_reads.load(
        session,
        Report,
        '"task_id" = ?',
        [(None, task_id)],
        lambda columns: select(*columns).where(Report.task_id == task_id),
    )
    return found[0] if found else None


async def reports_for_tasks(session: AsyncSession, task_ids: list[int]) -> dict[int, Report]:
    if not task_ids:
        return {}
    rows = (await session.exec(select(Report).where(col(Report.task_id).in_(task_ids)))).all()
    return {r.task_id: r for r in rows}


async def create_report(
    session: AsyncSession,
    *,
    task: Task,
    author: str,
    approver: str | None,
    values: dict,
    kpis: list,
    now: datetime,
    via: str,
    approver_card: str | None = None,
) -> Report | None:
    """The first version of the report for `task`; None if the task already has one
    (a concurrent submit got there first). One `INSERT … ON CONFLICT DO NOTHING
    RETURNING` for the report, one INSERT for its version (at the next flush)."""
    row = {
        "task_id": task.id,
        "duty_key": task.duty_key,
        "author_open_id": author,
        "approver_open_id": approver,
        "status": ReportStatus.SUBMITTED,
        "version": 1,
        "values": dumps(values),
        "kpis": dumps(kpis),
        "submitted_at": now,
        "approver_card_uuid": approver_card,
        "created_at": now,
        "updated_at": now,
    }
    rows = await write_returning(session, "new_report", _insert_report, row, _REPORT_COLUMNS)
    if rows is not None:
        found = driver_reads.as_loaded(session, Report, rows, _REPORT_KEYS)
        report = found[0] if found else None
    else:
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(Report).values(row).on_conflict_do_nothing(index_elements=["task_id"])
        report = (await session.exec(stmt.returning(Report))).scalars().first()
    if report is None:
        return None
    await _add_version(session, report.id, 1, row["values"], now, via)
    return report


async def _add_version(
    session: AsyncSession, report_id: int, version: int, values: str, at: datetime, via: str
) -> None:
    row = {
        "report_id": report_id,
        "version": version,
        "values": values,
        "submitted_at": at,
        "via": via,
    }
    if not await write_soon(session, "report_version", _insert_version, row):
        session.add(ReportVersion(**row))


def _insert_version():
    return insert(ReportVersion.__table__)


async def new_version(
    session: AsyncSession,
    report: Report,
    *,
    values: dict,
    kpis: list,
    now: datetime,
    via: str,
    author: str | None = None,
) -> bool:
    """Edit (still submitted) or resubmit (after a rejection): version + 1, status
    submitted. Conditional on the status and version we read; False if it changed.
    `author`: who submits this version. Someone who took the task over (its author left)
    makes the report theirs; the earlier versions' authors stay in the audit log."""
    resubmit = report.status == ReportStatus.REJECTED
    changes: dict[str, Any] = {
        "status": ReportStatus.SUBMITTED,
        "version": report.version + 1,
        "values": dumps(values),
        "kpis": dumps(kpis),
        "updated_at": now,
    }
    if resubmit:  # the wait for a decision starts again; the last comment stays visible
        changes.update(submitted_at=now, decided_at=None, decided_by=None)
    if author is not None and author != report.author_open_id:
        changes.update(author_open_id=author, author_card_uuid=None)  # theirs was not
    result = await session.exec(
        update(Report)
        .where(
            Report.id == report.id,
            Report.version == report.version,
            col(Report.status).in_((ReportStatus.SUBMITTED, ReportStatus.REJECTED)),
            Report.status == report.status,
        )
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    await _add_version(session, report.id, report.version + 1, dumps(values), now, via)
    await session.refresh(report)
    return True


async def decide(
    session: AsyncSession,
    report: Report,
    *,
    version: int,
    status: str,
    by: str,
    at: datetime,
    comment: str | None,
) -> bool:
    """Approve or reject: `UPDATE … WHERE id=? AND status='submitted' AND version=?`.
    True for the one click that wins. Afterwards `report` holds the row as it is now: the
    winner's from the UPDATE's RETURNING (the whole row, so a change another writer made
    meanwhile, a new approver say, is seen), a loser's read again."""
    table = Report.__table__
    changes = {"status": status, "decided_by": by, "decided_at": at, "comment": comment}
    changes["updated_at"] = at
    where = {"w_id": report.id, "w_status": ReportStatus.SUBMITTED, "w_version": version}
    rows = await write_returning(
        session, "decide", _decide_report, {**changes, **where}, _REPORT_COLUMNS
    )
    if rows is not None:
        row = dict(zip(_REPORT_KEYS, rows[0], strict=True)) if rows else None
    else:
        found = (
            await session.exec(
                update(table)
                .where(
                    table.c.id == report.id,
                    table.c.status == ReportStatus.SUBMITTED,
                    table.c.version == version,
                )
                .values(**changes)
                .returning(*table.c)
            )
        ).first()
        row = dict(found._mapping) if found is not None else None
    if row is None:
        await session.refresh(report)
        return False
    _committed(report, row)
    return True


def _committed(obj: Any, row: dict) -> None:
    """Copy a RETURNING row into a loaded object as its stored state (no flush follows)."""
    for key, value in row.items():
        set_committed_value(obj, key, value)


def _insert_report():
    stmt = sqlite.insert(Report.__table__).on_conflict_do_nothing(index_elements=["task_id"])
    return stmt.returning(*_REPORT_COLUMNS)


def _decide_report():
    c = Report.__table__.c
    return (
        update(Report.__table__)
        .where(
            c.id == bindparam("w_id"),
            c.status == bindparam("w_status"),
            c.version == bindparam("w_version"),
        )
        .returning(*_REPORT_COLUMNS)
    )


def _update_task_returning():
    table = Task.__table__
    return update(table).where(table.c.id == bindparam("w_id")).returning(*_TASK_COLUMNS)


async def report_and_task(session: AsyncSession, report_id: int) -> tuple[Report, Task] | None:
    """A report and its task, in one query."""
    await driver_reads.autoflush(session)
    rows = await driver_reads.fetch(
        session,
        _REPORT_AND_TASK_SQL,
        [(None, report_id)],
        _REPORT_AND_TASK,
        lambda: (
            select(*_REPORT_AND_TASK)
            .join(Task, col(Task.id) == col(Report.task_id))
            .where(Report.id == report_id)
        ),
    )
    if not rows:
        return None
    n = len(_REPORT_COLUMNS)
    (report,) = driver_reads.as_loaded(session, Report, [rows[0][:n]], _REPORT_KEYS)
    (task,) = driver_reads.as_loaded(session, Task, [rows[0][n:]], _TASK_KEYS)
    return report, task


_REPORT_COLUMNS = driver_reads.model_columns(Report)
_TASK_COLUMNS = driver_reads.model_columns(Task)
_REPORT_KEYS = [c.key for c in _REPORT_COLUMNS]
_TASK_KEYS = [c.key for c in _TASK_COLUMNS]
_REPORT_AND_TASK = (*_REPORT_COLUMNS, *_TASK_COLUMNS)
_REPORT_AND_TASK_SQL = (
    "SELECT "
    + ", ".join(f'r."{c.name}"' for c in _REPORT_COLUMNS)
    + ", "
    + ", ".join(f't."{c.name}"' for c in _TASK_COLUMNS)
    + ' FROM reports AS r JOIN tasks AS t ON t."id" = r."task_id" WHERE r."id" = ?'
)


async def set_card_uuids(
    session: AsyncSession,
    report: Report,
    *,
    approver_card: str | None = None,
    author_card: str | None = None,
) -> None:
    values: dict[str, Any] = {}
    if approver_card is not None:
        values["approver_card_uuid"] = approver_card
    if author_card is not None:
        values["author_card_uuid"] = author_card
    if not values:
        return
    if not await write_soon(
        session, ("report_by_id",), _update_report, {**values, "w_id": report.id}
    ):
        await session.exec(
            update(Report)
            .where(Report.id == report.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    for k, v in values.items():  # what the row now holds: no second UPDATE at the next flush
        set_committed_value(report, k, v)


async def set_task_state(
    session: AsyncSession,
    task_id: int,
    *,
    status: str,
    now: datetime,
    done_at: datetime | None = None,
    note: str | None = None,
    due_at: datetime | None = None,
    keep_note: bool = True,
    task: Task | None = None,
) -> None:
    """Does not commit. With `task` (the loaded row), it holds the row as updated after."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == TaskStatus.APPROVED:
        values["done_at"] = done_at or now
    if note is not None or not keep_note:
        values["note"] = note
    if due_at is not None:
        # The first move keeps the original deadline (the UPDATE reads the old values).
        values["original_due_at"] = func.coalesce(Task.original_due_at, Task.due_at)
        values["due_at"] = due_at
    if task is not None:
        rows = None
        if "original_due_at" not in values:  # an expression: SQLAlchemy's statement binds it
            rows = await write_returning(
                session,
                "task_returning",
                _update_task_returning,
                {**values, "w_id": task_id},
                _TASK_COLUMNS,
            )
        if rows is not None:
            row = dict(zip(_TASK_KEYS, rows[0], strict=True)) if rows else None
        else:
            table = Task.__table__
            stmt = update(table).where(table.c.id == task_id).values(**values).returning(*table.c)
            found = (await session.exec(stmt)).first()
            row = dict(found._mapping) if found is not None else None
        if row is not None:
            _committed(task, row)
        return
    if "original_due_at" not in values and await write_soon(
        session, "task_by_id", _update_task, {**values, "w_id": task_id}
    ):
        return
    await session.exec(
        update(Task)
        .where(Task.id == task_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _update_report():
    return update(Report.__table__).where(Report.__table__.c.id == bindparam("w_id"))


def _update_task():
    return update(Task.__table__).where(Task.__table__.c.id == bindparam("w_id"))


async def versions(session: AsyncSession, report_id: int) -> list[ReportVersion]:
    stmt = (
        select(ReportVersion)
        .where(ReportVersion.report_id == report_id)
        .order_by(ReportVersion.version)
    )
    return list((await session.exec(stmt)).all())


async def pending_for(
    session: AsyncSession, open_id: str, *, include_unassigned: bool = False, limit: int = 100
) -> list[Report]:
    """Reports waiting for `open_id`'s decision, oldest first. Admins also see reports
    nobody in the department can approve (`include_unassigned`), except their own."""
    who = Report.approver_open_id == open_id
    if include_unassigned:
        who = or_(
            who,
            (col(Report.approver_open_id).is_(None)) & (Report.author_open_id != open_id),
        )
    stmt = (
        select(Report)
        .where(Report.status == ReportStatus.SUBMITTED, who)
        .order_by(Report.submitted_at, Report.id)
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def by_author(session: AsyncSession, open_id: str, *, limit: int = 50) -> list[Report]:
    """The author's reports, most recently changed first."""
    stmt = (
        select(Report)
        .where(Report.author_open_id == open_id)
        .order_by(col(Report.updated_at).desc(), col(Report.id).desc())
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def tasks_by_id(session: AsyncSession, ids: list[int]) -> dict[int, Task]:
    if not ids:
        return {}
    rows = (await session.exec(select(Task).where(col(Task.id).in_(ids)))).all()
    return {t.id: t for t in rows}


async def version_submitted_at(
    session: AsyncSession, report_id: int, version: int
) -> datetime | None:
    """When `version` of a report was submitted."""
    stmt = select(ReportVersion.submitted_at).where(
        ReportVersion.report_id == report_id, ReportVersion.version == version
    )
    return (await session.exec(stmt)).first()


async def versions_submitted_at(
    session: AsyncSession, report_id: int, versions: set[int]
) -> dict[int, datetime]:
    """When each of these versions of a report was submitted (one query)."""
    wanted = sorted(versions)
    await driver_reads.autoflush(session)
    columns = (ReportVersion.__table__.c.version, ReportVersion.__table__.c.submitted_at)
    rows = await driver_reads.fetch(
        session,
        'SELECT "version", "submitted_at" FROM report_versions WHERE "report_id" = ?'
        f' AND "version" IN ({", ".join("?" * len(wanted))})',
        [(None, report_id), *((None, v) for v in wanted)],
        columns,
        lambda: select(*columns).where(
            ReportVersion.report_id == report_id, col(ReportVersion.version).in_(wanted)
        ),
    )
    return {v: at for v, at in rows}


async def set_approver(session: AsyncSession, report: Report, open_id: str | None) -> None:
    """Record who approves a report now (the team changed since it was submitted)."""
    await session.exec(
        update(Report)
        .where(Report.id == report.id)
        .values(approver_open_id=open_id)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(report, "approver_open_id", open_id)  # the row holds it already


async def pending_reports(session: AsyncSession, limit: int = 1000) -> list[Report]:
    """Every report waiting for a decision, oldest first."""
    stmt = (
        select(Report)
        .where(Report.status == ReportStatus.SUBMITTED)
        .order_by(Report.submitted_at, Report.id)
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())
