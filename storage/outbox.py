"""The outbox: messages decided on, to be sent exactly once through the gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import driver_reads
from storage.driver_writes import write_soon
from storage.inbox_writer import stored_value
from storage.models import CardSnapshot, Marker, OutboundMessage
from storage.queue import backoff, insert_ignore
from storage.sqlite_driver import commit_in_same_call

CHUNK = 500  # rows per multi-row insert
MAX_BACKOFF = timedelta(minutes=5)  # an outage's end is noticed within minutes


@dataclass(frozen=True)
class Purpose:
    """Why a message is sent: how soon it goes (lower first) and how long it is worth
    retrying. A chat answer hours late answers a question nobody is waiting on; a reminder,
    escalation or digest still tells people something they need to know a day or two on."""

    priority: int
    ttl: timedelta


PURPOSES: dict[str, Purpose] = {
    "answer": Purpose(0, timedelta(hours=3)),  # a reply to someone who just wrote
    "card_update": Purpose(0, timedelta(minutes=30)),  # the callback token lives 30 min
    "card": Purpose(1, timedelta(days=7)),  # a card patched in place (Feishu: ≤ 14 days)
    "alert": Purpose(1, timedelta(days=2)),  # to the admins: something was not delivered
    "notice": Purpose(2, timedelta(days=2)),  # approval cards, copies, announcements
    "reminder": Purpose(3, timedelta(days=2)),
    "escalation": Purpose(3, timedelta(days=3)),
    "digest": Purpose(3, timedelta(days=7)),
    "task": Purpose(4, timedelta(days=30)),  # the Feishu Tasks mirror
}
DEFAULT_PURPOSE = {"reply": "answer", "patch": "card", "card_update": "card_update"}
DEAD = ("failed", "expired")  # never delivered, and never will be by this row


def lane_of(kind: str, receive_id: str | None, target: str | None) -> str:
    """The receiver whose rate limit and order a message shares (claimed fairly per lane)."""
    if kind == "patch":
        return f"patch:{target or ''}"[:80]
    return (receive_id or target or kind)[:80]


def _content(msg_type: str, body: dict | str) -> str:
    if msg_type == "text" and isinstance(body, str):
        return json.dumps({"text": body}, ensure_ascii=False)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def outbox_row(
    *,
    uuid: str,
    now: datetime,
    kind: str,
    body: dict | str,
    msg_type: str = "interactive",
    receive_id_type: str | None = None,
    receive_id: str | None = None,
    target_message_id: str | None = None,
    target_uuid: str | None = None,
    purpose: str | None = None,
    lane: str | None = None,
    department: str | None = None,
) -> dict:
    """The outbox row for one message (the arguments are `enqueue`'s)."""
    if len(uuid) > 50:
        raise ValueError(f"Feishu uuid must be ≤ 50 chars: {uuid!r}")
    purpose = purpose or DEFAULT_PURPOSE.get(kind, "notice")
    rule = PURPOSES[purpose]
    return {
        "uuid": uuid,
        "kind": kind,
        "receive_id_type": receive_id_type,
        "receive_id": receive_id,
        "target_message_id": target_message_id,
        "target_uuid": target_uuid,
        "msg_type": msg_type,
        "content": _content(msg_type, body),
        "purpose": purpose,
        "priority": rule.priority,
        "lane": lane or lane_of(kind, receive_id, target_message_id or target_uuid),
        "expires_at": now + rule.ttl,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "department": department,
    }


async def enqueue(session: AsyncSession, **message: Any) -> bool:
    """Queue one outbound message; False when this uuid was queued before (never twice).
    The keyword arguments are `outbox_row`'s:

    kind: "send" (receive_id_type + receive_id), "reply" (target_message_id; receive_id =
    the chat, for rate limiting), "patch" (replace a card: target_message_id, or the
    target_uuid of the outbox row that sent it), "card_update" (body = {token, card}).
    purpose: a key of PURPOSES (default: answer for replies, card for patches, else notice).
    department: whose admins hear if it is never delivered (default: the receiver's)."""
    row = outbox_row(**message)
    return 1 == await insert_ignore(session, OutboundMessage, row, key="uuid")


async def enqueue_soon(session: AsyncSession, **message: Any) -> None:
    """`enqueue` for callers that do not ask whether the row was new (a handler's sends and
    patches: their uuids come from the event, so a retry queues nothing twice): a write
    queued for the connection's next hop where there is one (storage.driver_writes)."""
    row = outbox_row(**message)
    if not await write_soon(session, "outbox", _insert_ignore_sqlite, row):
        await insert_ignore(session, OutboundMessage, row, key="uuid")


def _insert_ignore_sqlite():
    return sqlite.insert(OutboundMessage.__table__).on_conflict_do_nothing(index_elements=["uuid"])


async def enqueue_many(session: AsyncSession, rows: list[dict]) -> int:
    """Queue many messages (rows from `outbox_row`) in one statement per few hundred; a
    uuid queued before is skipped. Returns how many were queued. Does not commit."""
    if not rows:
        return 0
    conn = await session.connection()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(OutboundMessage).on_conflict_do_nothing(index_elements=["uuid"])
    stmt = stmt.returning(OutboundMessage.id)
    queued = 0
    for i in range(0, len(rows), CHUNK):
        queued += len((await conn.execute(stmt, rows[i : i + CHUNK])).all())
    return queued


@dataclass(frozen=True)
class Sent:
    """A row Feishu accepted: its message id, and the card shown there now, if any."""

    row_id: int
    at: datetime
    message_id: str | None
    card: tuple[str, str] | None = None  # (message id, card JSON) for storage.cards


_TABLE, _CARDS = OutboundMessage.__table__, CardSnapshot.__table__
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(
        status="sent",
        sent_at=bindparam("at"),
        feishu_message_id=bindparam("mid"),
        lease_until=None,
        last_error=None,
    )
)
_MARK_SENT_SQLITE = (
    "UPDATE outbound_messages SET status = 'sent', sent_at = ?, feishu_message_id = ?,"
    " lease_until = NULL, last_error = NULL WHERE id = ?"
)
_CARD_SQLITE = (
    "INSERT INTO card_snapshots (message_id, content, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (message_id) DO UPDATE SET content = excluded.content,"
    " updated_at = excluded.updated_at"
)


def _card_upsert(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_CARDS)
    return stmt.on_conflict_do_update(
        index_elements=["message_id"],
        set_={"content": stmt.excluded.content, "updated_at": stmt.excluded.updated_at},
    )


async def record_sent(session: AsyncSession, sent: list[Sent]) -> None:
    """Mark rows sent and remember their cards (storage.cards), and COMMIT.

    On SQLite the whole transaction is one call on the session's driver connection, run in
    its thread: the database's single write lock is held while the statements run, not
    across trips back to a busy event loop (which held it up to 1.6 s during a fan-out,
    and the webhook's inbox insert waited behind it: bench/fanout.py --probe)."""
    if not sent:
        return
    cards = {s.card[0]: (s.card[1], s.at) for s in sent if s.card and s.card[0]}  # last wins
    conn = await session.connection()
    if conn.dialect.name == "sqlite" and conn.dialect.driver == "aiosqlite":
        driver = (await conn.get_raw_connection()).driver_connection
        marks = [(stored_value(s.at), s.message_id, s.row_id) for s in sent]
        shown = [(mid, card, stored_value(at)) for mid, (card, at) in cards.items()]

        def write() -> None:
            db = driver._conn  # noqa: SLF001 - the sqlite3 connection, in its own thread
            try:
                db.executemany(_MARK_SENT_SQLITE, marks)
                if shown:
                    db.executemany(_CARD_SQLITE, shown)
                db.commit()
            except BaseException:
                db.rollback()
                raise

        await driver._execute(write)  # noqa: SLF001 - one hand-off (storage.sqlite_driver)
        await session.commit()  # nothing left: SQLAlchemy's transaction ends
        return
    await conn.execute(
        _MARK_SENT, [{"row_id": s.row_id, "at": s.at, "mid": s.message_id} for s in sent]
    )
    if cards:
        await conn.execute(
            _card_upsert(conn.dialect.name),
            [
                {"message_id": mid, "content": card, "updated_at": at}
                for mid, (card, at) in cards.items()
            ],
        )
    await session.commit()


async def mark_attempt_failed(
    session: AsyncSession,
    row: OutboundMessage,
    now: datetime,
    error: str,
    *,
    permanent: bool,
    retry_after: float | None = None,
) -> str:
    """Retry later with capped backoff until the row expires, or give up at once on a
    permanent error; returns the new status (pending, failed or expired)."""
    attempts = row.attempts + 1
    delay = backoff(attempts, cap=MAX_BACKOFF.total_seconds())
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    if permanent:
        status = "failed"
    elif row.expires_at is not None and now + delay > row.expires_at:
        status = "expired"  # the next try would come too late to matter
    else:
        status = "pending"
    await session.exec(
        update(OutboundMessage)
        .where(OutboundMessage.id == row.id)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=now + delay,
            lease_until=None,
            last_error=error[:2000],
        )
    )
    return status


async def expire_due(session: AsyncSession, now: datetime) -> list[OutboundMessage]:
    """Mark waiting rows past their expiry as expired (not sent: too late to matter),
    commit, and return them. Also takes rows whose lease ran out (their worker died) and
    whose expiry passed meanwhile."""
    stmt = (
        update(OutboundMessage)
        .where(
            OutboundMessage.expires_at < now,
            (OutboundMessage.status == "pending")
            | ((OutboundMessage.status == "processing") & (OutboundMessage.lease_until < now)),
        )
        .values(
            status="expired",
            lease_until=None,
            last_error=func.coalesce(OutboundMessage.last_error, "not attempted before expiry"),
        )
        .returning(OutboundMessage)
        .execution_options(synchronize_session=False)
    )
    expired = list((await session.exec(commit_in_same_call(stmt))).scalars().all())
    await session.commit()
    return expired


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest waiting row can next be taken (a retry, or a lease running out);
    None when nothing waits."""
    pending = select(func.min(OutboundMessage.next_attempt_at)).where(
        OutboundMessage.status == "pending"
    )
    leased = select(func.min(OutboundMessage.lease_until)).where(
        OutboundMessage.status == "processing"
    )
    times = []
    for query in (pending, leased):
        if (at := (await session.exec(query)).one()[0]) is not None:
            times.append(at)
    return min(times) if times else None


async def depth(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many messages wait to be sent, and since when the oldest waits."""
    row = (
        await session.exec(
            select(func.count(OutboundMessage.id), func.min(OutboundMessage.created_at)).where(
                OutboundMessage.status.in_(("pending", "processing"))
            )
        )
    ).one()
    return row[0], row[1]


async def sent_message_id(session: AsyncSession, uuid: str) -> tuple[str, str | None]:
    """The status of the outbox row with this uuid and the Feishu message id it got."""
    columns = (OutboundMessage.__table__.c.status, OutboundMessage.__table__.c.feishu_message_id)
    await driver_reads.autoflush(session)
    rows = await driver_reads.fetch(
        session,
        'SELECT "status", "feishu_message_id" FROM outbound_messages WHERE "uuid" = ?',
        [(None, uuid)],
        columns,
        lambda: select(*columns).where(OutboundMessage.uuid == uuid),
    )
    if not rows:
        return "missing", None
    return rows[0][0], rows[0][1]


async def open_incident(session: AsyncSession, key: str, now: datetime, quiet: timedelta) -> bool:
    """Note a loss under `key`; True when it opens a new incident (none seen for `quiet`).
    Replicas racing here agree: the row lock makes the second one see the first's time."""
    if await insert_ignore(session, Marker, {"key": key, "created_at": now}, "key"):
        return True
    opened = await session.exec(
        update(Marker)
        .where(Marker.key == key, Marker.created_at < now - quiet)
        .values(created_at=now)
    )
    if opened.rowcount:
        return True
    await session.exec(update(Marker).where(Marker.key == key).values(created_at=now))
    return False


async def queued_at(session: AsyncSession, uuid: str) -> datetime | None:
    """When the outbox row with this uuid was queued (None when there is none)."""
    stmt = select(OutboundMessage.created_at).where(OutboundMessage.uuid == uuid)
    return (await session.exec(stmt)).scalars().first()
