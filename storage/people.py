"""The queries behind handing work over (someone left or changed role, a task reassigned
from the hand-off card). Each change is a conditional UPDATE, and every one sets
`next_action_at` to "look now" so the reminder ladder plans the task for its new holder
(the markers are per recipient: the new holder hears the current step once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.roster import UNKNOWN_NAME, shown_name
from storage import driver_reads
from storage.models import RECHECK, Member, Task, TaskStatus

# What moves: work not yet delivered. A submitted report stays with its author (its
# approval goes on, and its history is theirs).
MOVABLE = (TaskStatus.OPEN, TaskStatus.REJECTED)


async def movable_tasks(
    session: AsyncSession, open_id: str, duty_keys: list[str] | None = None
) -> list[Task]:
    """A member's undelivered tasks (of these duties, if given), soonest due first."""
    stmt = select(Task).where(Task.assignee_open_id == open_id, col(Task.status).in_(MOVABLE))
    if duty_keys is not None:
        if not duty_keys:
            return []
        stmt = stmt.where(col(Task.duty_key).in_(duty_keys))
    return list((await session.exec(stmt.order_by(Task.due_at, Task.id))).all())


async def taken_keys(
    session: AsyncSession, pairs: set[tuple[str, str]], open_ids: set[str]
) -> set[tuple[str, str, str]]:
    """(duty_key, period_key, assignee) of the existing rows, any status, for these
    duty/period pairs and people: one person holds one task per duty and period."""
    if not pairs or not open_ids:
        return set()
    stmt = select(Task.duty_key, Task.period_key, Task.assignee_open_id).where(
        col(Task.assignee_open_id).in_(sorted(open_ids)),
        col(Task.duty_key).in_(sorted({d for d, _ in pairs})),
    )
    rows = (await session.exec(stmt)).all()
    return {(d, p, a) for d, p, a in rows if (d, p) in pairs}


async def reassign(
    session: AsyncSession, task: Task, to: str, now: datetime, *, note: str | None = None
) -> bool:
    """Give an undelivered task to `to`, if it is still with whom we read it with; the
    snooze (theirs) ends, the reminder ladder looks again at once."""
    values: dict = {
        "assignee_open_id": to,
        "snoozed_until": None,
        "updated_at": now,
        "next_action_at": RECHECK,
    }
    if note is not None:
        values["note"] = note
    result = await session.exec(
        update(Task)
        .where(
            Task.id == task.id,
            Task.assignee_open_id == task.assignee_open_id,
            col(Task.status).in_(MOVABLE),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    task.assignee_open_id, task.snoozed_until, task.updated_at = to, None, now
    task.next_action_at = RECHECK
    return True


async def cancel_covered(session: AsyncSession, task: Task, now: datetime, note: str) -> bool:
    """Cancel a task its new holder already has for the same duty and period."""
    result = await session.exec(
        update(Task)
        .where(Task.id == task.id, col(Task.status).in_(MOVABLE))
        .values(status=TaskStatus.CANCELLED, note=note, updated_at=now, next_action_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    task.status, task.note, task.updated_at, task.next_action_at = (
        TaskStatus.CANCELLED,
        note,
        now,
        None,
    )
    return True


async def tasks_by_id(session: AsyncSession, ids: list[int]) -> list[Task]:
    if not ids:
        return []
    rows = (await session.exec(select(Task).where(col(Task.id).in_(ids)))).all()
    order = {task_id: i for i, task_id in enumerate(ids)}
    return sorted(rows, key=lambda t: order.get(t.id or 0, 0))


async def any_member(session: AsyncSession, open_id: str) -> Member | None:
    """A member past or present (the departed keep their row, inactive)."""
    return await session.get(Member, open_id) if open_id else None


async def people(session: AsyncSession, open_ids: set[str]) -> dict[str, Member]:
    """Members past and present by open_id."""
    ids = sorted(i for i in open_ids if i)
    if not ids:
        return {}
    rows = await driver_reads.load(
        session,
        Member,
        f'"open_id" IN ({", ".join("?" * len(ids))})',
        [(None, i) for i in ids],
        lambda columns: select(*columns).where(col(Member.open_id).in_(ids)),
    )
    return {m.open_id: m for m in rows}


async def shown_names(
    session: AsyncSession, open_ids: set[str], lang: str = "zh"
) -> dict[str, str]:
    """A name for each of these open_ids as lists show it: members by name, departed ones
    marked "（已离开）" / "(left)", unknown ones as "unknown member", never an open_id."""
    return shown_names_of(await people(session, open_ids), open_ids, lang)


def shown_names_of(
    found: dict[str, Member], open_ids: set[str], lang: str = "zh"
) -> dict[str, str]:
    """`shown_names` from members already loaded with `people` (no query)."""
    return {
        i: shown_name(found[i].name, found[i].active, lang)
        if i in found
        else UNKNOWN_NAME["en" if lang == "en" else "zh"]
        for i in open_ids
        if i
    }
