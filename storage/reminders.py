"""Queries and the once-ledger behind reminders and escalations.

A reminder step is sent once per (task, due date, step, recipient): its `Marker` row is
inserted in the same transaction as the outbox row that carries it. Two replicas (or a
re-run tick) that plan the same round race on the marker's primary key; the loser inserts
nothing and rolls back, so nobody is reminded twice."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Marker, Task, TaskStatus
from storage.queue import insert_ignore

REMINDABLE = (TaskStatus.OPEN, TaskStatus.REJECTED)  # submitted work waits for its approver
CHUNK = 500


# What planning a round needs of a task: plain rows, not ORM objects (a tick may read
# thousands; rows are several times cheaper to build).
DUE_NOW_COLUMNS = (
    Task.id,
    Task.duty_key,
    Task.assignee_open_id,
    Task.activity_id,
    Task.due_at,
    Task.status,
    Task.snoozed_until,
)


def due_now_query(lo: datetime, hi: datetime):
    """Tasks a reminder step may apply to: not delivered yet, due in [lo, hi). Served by
    the (status, due_at) index."""
    return select(*DUE_NOW_COLUMNS).where(
        col(Task.status).in_(REMINDABLE), Task.due_at >= lo, Task.due_at < hi
    )  # no ORDER BY: the cards sort their lines; the database need not sort thousands


async def tasks_due_between(session: AsyncSession, lo: datetime, hi: datetime) -> list:
    """Rows with the attributes of DUE_NOW_COLUMNS (id, duty_key, assignee_open_id, …)."""
    return list((await session.exec(due_now_query(lo, hi))).all())


def marker_key(task_id: int, due_local_date: str, step: str, recipient: str) -> str:
    """≤ 160 chars: "rem:<task>:<due date>:<step>:<open_id>" (step keys ≤ 40, open_ids ≤ 64)."""
    return f"rem:{task_id}:{due_local_date}:{step}:{recipient}"


async def existing_markers(session: AsyncSession, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        rows = await session.exec(select(Marker.key).where(col(Marker.key).in_(chunk)))
        found.update(rows.all())
    return found


async def claim_markers(session: AsyncSession, keys: list[str], now: datetime) -> bool:
    """Insert every marker, or report that another pass got (some of) them first: the
    caller then rolls back. Keys are inserted in sorted order (no lock-order deadlocks)."""
    keys = sorted(set(keys))
    inserted = 0
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        inserted += await insert_ignore(
            session, Marker, [{"key": k, "created_at": now} for k in chunk], "key"
        )
    return inserted == len(keys)


async def claim_marker(session: AsyncSession, key: str, now: datetime) -> bool:
    return await claim_markers(session, [key], now)


async def snooze_task(session: AsyncSession, task: Task, until: datetime, now: datetime) -> None:
    task.snoozed_until, task.updated_at = until, now
    session.add(task)
