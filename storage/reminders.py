"""Queries and the once-ledger behind reminders and escalations.

A reminder step is sent once per (task, due date, step, recipient): its `Marker` row is
inserted in the same transaction as the outbox row that carries it. Two replicas (or a
re-run tick) that plan the same round race on the marker's primary key; the loser inserts
nothing and rolls back, so nobody is reminded twice.

A marker counts as sent only while the message carrying it (`outbox_uuid`) can still be
delivered: once that row expired or failed, the marker is released and the step is planned
again by the next round."""

from __future__ import annotations

from collections import defaultdict, namedtuple
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import driver_reads
from storage.models import RECHECK, Marker, OutboundMessage, Task, TaskStatus
from storage.outbox import DEAD
from storage.queue import insert_ignore

REMINDABLE = (TaskStatus.OPEN, TaskStatus.REJECTED)  # submitted work waits for its approver
CHUNK = 500


# What planning a round needs of a task: plain rows, not ORM objects (a morning round may
# read thousands; rows are several times cheaper to build). `next_action_at` comes back so
# that storing the next value is a compare-and-set (see set_next_actions).
DUE_NOW_COLUMNS = (
    Task.id,
    Task.duty_key,
    Task.assignee_open_id,
    Task.activity_id,
    Task.due_at,
    Task.status,
    Task.snoozed_until,
    Task.next_action_at,
    Task.subject,  # a task started in chat: what it is about (NULL for the others)
)


def due_now_query(now: datetime, department: str | None = None):
    """Tasks whose next reminder action has come: not delivered yet, `next_action_at` ≤ now
    (of one department; None: all). Served by the (status, next_action_at) index: between
    rounds this is a handful of rows."""
    stmt = select(*DUE_NOW_COLUMNS).where(
        col(Task.status).in_(REMINDABLE), col(Task.next_action_at) <= now
    )  # no ORDER BY: the cards sort their lines; the database need not sort thousands
    if department is not None:
        stmt = stmt.where(Task.department == department)
    return stmt


# A row of DUE_NOW_COLUMNS, by name (task.id, task.due_at, …).
DueTask = namedtuple("DueTask", [c.key for c in DUE_NOW_COLUMNS])  # type: ignore[misc]


# The same query as one driver call (storage.driver_reads): through SQLAlchemy a query
# takes several trips (aiosqlite's hand-offs to the connection's thread; BEGIN and
# ROLLBACK on PostgreSQL), which cost more than the indexed read itself (bench/due_query.py).
_DUE_NOW_SQL = (
    f"SELECT {', '.join(c.key for c in DUE_NOW_COLUMNS)} FROM tasks "
    f"WHERE status IN ({', '.join('?' * len(REMINDABLE))}) AND next_action_at <= ?"
)
_DUE_NOW_SQL_COLUMNS = [c.expression for c in DUE_NOW_COLUMNS]


async def tasks_due_now(
    session: AsyncSession, now: datetime, department: str | None = None
) -> list:
    """Rows with the attributes of DUE_NOW_COLUMNS (id, duty_key, assignee_open_id, …)."""
    sql = _DUE_NOW_SQL
    params = [*((None, s) for s in REMINDABLE), (Task.__table__.c.next_action_at, now)]
    if department is not None:
        sql, params = sql + " AND department = ?", [*params, (None, department)]
    return await driver_reads.fetch(
        session,
        sql,
        params,
        _DUE_NOW_SQL_COLUMNS,
        lambda: due_now_query(now, department),
        DueTask._make,
    )


async def set_next_actions(
    session: AsyncSession, changes: list[tuple[int, datetime | None, datetime | None]]
) -> None:
    """Store (task id, value seen, new value) for each task a round planned, unless the
    task changed since it was read (another write reset `next_action_at`): that write's
    value wins and the task is looked at again. Tasks with the same (seen, new) pair, most
    of a morning round, go in one UPDATE per few hundred ids. Does not commit."""
    groups: dict[tuple[datetime | None, datetime | None], list[int]] = defaultdict(list)
    for task_id, seen, new in changes:
        groups[(seen, new)].append(task_id)
    if changes and session.bind.dialect.name == "postgresql":
        # The grouped UPDATEs below lock rows group by group; two replicas planning
        # overlapping rounds would take them in different orders and deadlock. Lock every
        # row once, in one global id order, first (SQLite has one writer: no need).
        every = sorted({task_id for task_id, _, _ in changes})
        for i in range(0, len(every), CHUNK):
            await session.exec(
                select(Task.id)
                .where(col(Task.id).in_(every[i : i + CHUNK]))
                .order_by(Task.id)
                .with_for_update()
            )
    for (seen, new), ids in groups.items():
        was = Task.next_action_at.is_(None) if seen is None else Task.next_action_at == seen
        ids.sort()
        for i in range(0, len(ids), CHUNK):
            await session.exec(
                update(Task)
                .where(col(Task.id).in_(ids[i : i + CHUNK]), was)
                .values(next_action_at=new)
                .execution_options(synchronize_session=False)
            )


async def recheck_open_tasks(
    session: AsyncSession, due_from: datetime, department: str | None = None
) -> int:
    """Make every undelivered task (of one department; None: all) due from `due_from` on be
    looked at by the next round (the ladder, working hours or the team changed). Does not
    commit."""
    stmt = update(Task).where(col(Task.status).in_(REMINDABLE), Task.due_at >= due_from)
    if department is not None:
        stmt = stmt.where(Task.department == department)
    result = await session.exec(
        stmt.values(next_action_at=RECHECK).execution_options(synchronize_session=False)
    )
    return result.rowcount


def marker_key(task_id: int, due_local_date: str, step: str, recipient: str) -> str:
    """≤ 160 chars: "rem:<task>:<due date>:<step>:<open_id>" (step keys ≤ 40, open_ids ≤ 64)."""
    return f"rem:{task_id}:{due_local_date}:{step}:{recipient}"


def _undelivered(now: datetime | None):
    """Outbox rows that will never carry their message: given up, or past their expiry
    (the outbox sweeps those as expired before it claims anything)."""
    dead = col(OutboundMessage.status).in_(DEAD)
    if now is None:
        return dead
    return or_(dead, OutboundMessage.expires_at < now)


async def existing_markers(
    session: AsyncSession, keys: list[str], now: datetime | None = None
) -> set[str]:
    """The keys already done: markers whose message was delivered or still can be."""
    found: set[str] = set()
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        lost = select(OutboundMessage.uuid).where(_undelivered(now))
        rows = await session.exec(
            select(Marker.key).where(
                col(Marker.key).in_(chunk),
                or_(col(Marker.outbox_uuid).is_(None), col(Marker.outbox_uuid).not_in(lost)),
            )
        )
        found.update(rows.all())
    return found


async def recheck_lost(session: AsyncSession, now: datetime) -> int:
    """Tasks whose reminder card will never be delivered are looked at again (their
    markers released), so the next round plans the step anew, as before `next_action_at`.
    Does not commit; returns how many markers were released."""
    lost = select(OutboundMessage.uuid).where(OutboundMessage.status != "sent", _undelivered(now))
    keys = list(
        (
            await session.exec(
                select(Marker.key).where(
                    col(Marker.key).startswith("rem:"), col(Marker.outbox_uuid).in_(lost)
                )
            )
        ).all()
    )
    if not keys:
        return 0
    ids = sorted({int(k.split(":")[1]) for k in keys})
    for i in range(0, len(ids), CHUNK):
        await session.exec(
            update(Task)
            .where(col(Task.id).in_(ids[i : i + CHUNK]), col(Task.status).in_(REMINDABLE))
            .values(next_action_at=RECHECK)
            .execution_options(synchronize_session=False)
        )
    for i in range(0, len(keys), CHUNK):
        await session.exec(delete(Marker).where(col(Marker.key).in_(keys[i : i + CHUNK])))
    return len(keys)


async def release_lost(session: AsyncSession, keys: list[str], now: datetime) -> None:
    """Drop the markers among `keys` whose message will never be delivered."""
    for i in range(0, len(keys), CHUNK):
        lost = select(OutboundMessage.uuid).where(_undelivered(now))
        await session.exec(
            delete(Marker).where(
                col(Marker.key).in_(keys[i : i + CHUNK]), col(Marker.outbox_uuid).in_(lost)
            )
        )


async def claim_markers(
    session: AsyncSession, keys: list[str], now: datetime, outbox_uuid: str | None = None
) -> bool:
    """Insert every marker (carried by the outbox row `outbox_uuid`), or report that another
    pass got (some of) them first: the caller then rolls back. Markers whose message was
    lost are released first. Keys are inserted in sorted order (no lock-order deadlocks)."""
    keys = sorted(set(keys))
    if outbox_uuid is not None:
        await release_lost(session, keys, now)
    inserted = 0
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        inserted += await insert_ignore(
            session,
            Marker,
            [{"key": k, "created_at": now, "outbox_uuid": outbox_uuid} for k in chunk],
            "key",
        )
    return inserted == len(keys)


def _insert_markers(dialect: str):
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING key: run with many rows at once
    (SQLAlchemy sends them as multi-row VALUES), it says which keys this pass got."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Marker).on_conflict_do_nothing(index_elements=["key"]).returning(Marker.key)


async def claim_cards(
    session: AsyncSession, cards: list[tuple[str, list[str]]], now: datetime
) -> set[str]:
    """Claim the markers of many cards at once: `cards` is (outbox uuid, its marker keys)
    for each. Returns the uuids whose markers were all inserted here; a card of which
    another pass got any marker first gets none of its own (they are deleted again, as a
    rolled-back per-card transaction would have left them), so it is not sent twice.

    Markers whose message was lost are released first. All keys go in one sorted pass, so
    concurrent replicas take row locks in the same order (no deadlock on PostgreSQL: the
    second waits for the first's commit, then finds the keys taken). Does not commit."""
    owner: dict[str, str] = {}
    for uuid, keys in cards:
        for key in keys:
            owner.setdefault(key, uuid)
    keys = sorted(owner)
    await release_lost(session, keys, now)
    conn = await session.connection()
    stmt = _insert_markers(conn.dialect.name)
    got: set[str] = set()
    for i in range(0, len(keys), CHUNK):
        rows = [{"key": k, "created_at": now, "outbox_uuid": owner[k]} for k in keys[i : i + CHUNK]]
        got.update((await conn.execute(stmt, rows)).scalars().all())
    won: set[str] = set()
    undo: list[str] = []
    for uuid, card_keys in cards:
        mine = [k for k in set(card_keys) if owner[k] == uuid]
        if len(mine) == len(set(card_keys)) and all(k in got for k in mine):
            won.add(uuid)
        else:
            undo += [k for k in mine if k in got]
    for i in range(0, len(undo), CHUNK):
        await session.exec(delete(Marker).where(col(Marker.key).in_(undo[i : i + CHUNK])))
    return won


async def claim_marker(
    session: AsyncSession, key: str, now: datetime, outbox_uuid: str | None = None
) -> bool:
    return await claim_markers(session, [key], now, outbox_uuid)


async def snooze_task(session: AsyncSession, task: Task, until: datetime, now: datetime) -> None:
    task.snoozed_until, task.updated_at = until, now
    session.add(task)
