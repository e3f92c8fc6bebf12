"""The outbox: messages decided on, to be sent exactly once through the gateway."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import OutboundMessage
from storage.queue import backoff, insert_ignore

MAX_ATTEMPTS = 8


def _content(msg_type: str, body: dict | str) -> str:
    if msg_type == "text" and isinstance(body, str):
        return json.dumps({"text": body}, ensure_ascii=False)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def enqueue(
    session: AsyncSession,
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
) -> bool:
    """Queue one outbound message; False when this uuid was queued before (never twice).

    kind: "send" (receive_id_type + receive_id), "reply" (target_message_id; receive_id =
    the chat, for rate limiting), "patch" (replace a card: target_message_id, or the
    target_uuid of the outbox row that sent it), "card_update" (body = {token, card})."""
    if len(uuid) > 50:
        raise ValueError(f"Feishu uuid must be ≤ 50 chars: {uuid!r}")
    return 1 == await insert_ignore(
        session,
        OutboundMessage,
        {
            "uuid": uuid,
            "kind": kind,
            "receive_id_type": receive_id_type,
            "receive_id": receive_id,
            "target_message_id": target_message_id,
            "target_uuid": target_uuid,
            "msg_type": msg_type,
            "content": _content(msg_type, body),
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        },
        key="uuid",
    )


async def mark_sent(
    session: AsyncSession, row_id: int, now: datetime, message_id: str | None
) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(OutboundMessage.id == row_id)
        .values(
            status="sent",
            sent_at=now,
            feishu_message_id=message_id,
            lease_until=None,
            last_error=None,
        )
    )


async def mark_attempt_failed(
    session: AsyncSession,
    row: OutboundMessage,
    now: datetime,
    error: str,
    *,
    permanent: bool,
    retry_after: float | None = None,
) -> str:
    """Retry later with backoff, or give up; returns the new status."""
    attempts = row.attempts + 1
    status = "failed" if permanent or attempts >= MAX_ATTEMPTS else "pending"
    delay = backoff(attempts)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
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
    stmt = select(OutboundMessage).where(OutboundMessage.uuid == uuid)
    row = (await session.exec(stmt)).scalars().first()
    if row is None:
        return "missing", None
    return row.status, row.feishu_message_id


async def queued_at(session: AsyncSession, uuid: str) -> datetime | None:
    """When the outbox row with this uuid was queued (None when there is none)."""
    stmt = select(OutboundMessage.created_at).where(OutboundMessage.uuid == uuid)
    return (await session.exec(stmt)).scalars().first()
