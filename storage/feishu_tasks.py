"""The Feishu Tasks mirror's tables: which tasks need a call to Feishu (compared with what
was last queued for them in `feishu_tasks`), the compare-and-set that records a queued
change, and the guid each mirrored task got. The planning and sending are
bot/delivery/feishu_tasks.py's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    DEFAULT_DEPARTMENT,
    Activity,
    Duty,
    FeishuTaskLink,
    OutboundMessage,
    Task,
    TaskStatus,
)

COMPLETED = (TaskStatus.DONE, TaskStatus.APPROVED)


def create_uuid(task_id: int) -> str:
    """The outbox uuid of a task's create (its changes are `ft<id>.<seq>`, seq >= 1)."""
    return f"ft{task_id}.0"


def _its_duty():
    """A task's stored duty: in the task's department, by `storage.models.stored_key`."""
    qualified = col(Task.department) + ":" + col(Task.duty_key)
    return and_(
        col(Duty.department) == col(Task.department),
        or_(
            and_(col(Task.department) == DEFAULT_DEPARTMENT, col(Duty.key) == col(Task.duty_key)),
            col(Duty.key) == qualified,
        ),
    )


async def unmirrored(
    session: AsyncSession, limit: int, after: int = 0
) -> list[tuple[Task, Duty | None, str | None]]:
    """Open tasks with no create queued yet (ids above `after`, in id order), with their
    duty and activity title."""
    stmt = (
        select(Task, Duty, Activity.title)
        .outerjoin(FeishuTaskLink, col(FeishuTaskLink.task_id) == col(Task.id))
        .outerjoin(Duty, _its_duty())
        .outerjoin(Activity, col(Activity.id) == col(Task.activity_id))
        .where(col(FeishuTaskLink.task_id).is_(None))
        .where(col(Task.status).in_(TaskStatus.OPEN_STATES), col(Task.id) > after)
        .order_by(col(Task.id))
        .limit(limit)
    )
    return [tuple(r) for r in (await session.exec(stmt)).all()]


async def add_links(session: AsyncSession, tasks: list[Task], now: datetime) -> set[int]:
    """Record that these tasks' creates are queued, in one statement; returns the ids
    recorded now (a replica may have recorded some first: those are left to it)."""
    if not tasks:
        return set()
    values = [
        {
            "task_id": t.id,
            "assignee_open_id": t.assignee_open_id,
            "due_at": t.due_at,
            "closed": False,
            "seq": 0,
            "created_at": now,
            "updated_at": now,
        }
        for t in tasks
    ]
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = FeishuTaskLink.__table__
    stmt = (
        insert(table).on_conflict_do_nothing(index_elements=["task_id"]).returning(table.c.task_id)
    )
    # executemany (one cached statement, sent in batches) rather than a multi-row VALUES
    # that SQLAlchemy compiles anew for every batch
    return set((await session.exec(stmt, params=values)).scalars().all())


async def changed(session: AsyncSession, limit: int) -> list[tuple[FeishuTaskLink, Task]]:
    """Mirrored tasks that changed since their last queued call: finished, cancelled, a
    new due, a new assignee, or ticked off in Feishu while still open here."""
    L = FeishuTaskLink
    stmt = (
        select(L, Task)
        .join(Task, col(Task.id) == col(L.task_id))
        .where(col(L.closed).is_(False))
        .where(
            or_(
                col(Task.status).in_((*COMPLETED, TaskStatus.CANCELLED)),
                and_(
                    col(Task.status).in_(TaskStatus.OPEN_STATES),
                    or_(
                        col(Task.due_at) != col(L.due_at),
                        col(Task.assignee_open_id) != col(L.assignee_open_id),
                        col(L.reopen).is_(True),
                    ),
                ),
            )
        )
        .order_by(col(L.task_id))
        .limit(limit)
    )
    return [tuple(r) for r in (await session.exec(stmt)).all()]


async def advance(
    session: AsyncSession, link: FeishuTaskLink, calls: int, now: datetime, **new
) -> bool:
    """Compare-and-set: `calls` more changes queued from the link's seq; False when
    another replica got there first."""
    moved = await session.exec(
        update(FeishuTaskLink)
        .where(col(FeishuTaskLink.task_id) == link.task_id, col(FeishuTaskLink.seq) == link.seq)
        .values(seq=link.seq + calls, updated_at=now, **new)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1


async def guid_of(session: AsyncSession, task_id: int) -> tuple[str | None, str]:
    """The Feishu guid of a mirrored task (None until its create succeeded), and the
    status of that create in the outbox."""
    link = await session.get(FeishuTaskLink, task_id)
    row = (
        await session.exec(
            select(OutboundMessage.status, OutboundMessage.feishu_message_id).where(
                OutboundMessage.uuid == create_uuid(task_id)
            )
        )
    ).first()
    status, sent_id = (row[0], row[1]) if row else ("missing", None)
    return ((link.guid if link else None) or sent_id), status


async def store_guid(session: AsyncSession, task_id: int, guid: str, now: datetime) -> None:
    await session.exec(
        update(FeishuTaskLink)
        .where(col(FeishuTaskLink.task_id) == task_id)
        .values(guid=guid, updated_at=now)
    )


async def forget_refused_creates(session: AsyncSession) -> int:
    """Forget creates Feishu refused or that expired (e.g. the scope was missing), so the
    next look queues them again; returns how many. Their loss was reported when it
    happened; a create that did go through is never repeated."""
    dead = (
        (
            await session.exec(
                select(OutboundMessage.uuid).where(
                    col(OutboundMessage.kind) == "task_create",
                    col(OutboundMessage.status).in_(("failed", "expired")),
                )
            )
        )
        .scalars()
        .all()
    )
    ids = [int(uuid[2:].split(".")[0]) for uuid in dead]
    if not ids:
        return 0
    await session.exec(
        delete(FeishuTaskLink).where(
            col(FeishuTaskLink.task_id).in_(ids), col(FeishuTaskLink.guid).is_(None)
        )
    )
    await session.exec(delete(OutboundMessage).where(col(OutboundMessage.uuid).in_(dead)))
    return len(ids)


async def by_guid(session: AsyncSession, guid: str) -> tuple[FeishuTaskLink, Task] | None:
    """The mirrored task Feishu calls `guid`, with its link (None: not one of ours)."""
    L = FeishuTaskLink
    stmt = select(L, Task).join(Task, col(Task.id) == col(L.task_id)).where(col(L.guid) == guid)
    row = (await session.exec(stmt)).first()
    return (row[0], row[1]) if row else None


async def set_state(session: AsyncSession, task_id: int, now: datetime, **values: bool) -> None:
    """Record what Feishu did to a mirrored task: `closed` (gone there, or completed there
    as it is here: nothing more to mirror) or `reopen` (the mirror must open it again)."""
    await session.exec(
        update(FeishuTaskLink)
        .where(col(FeishuTaskLink.task_id) == task_id)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
