"""The audit log: who did what, when, to what."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.driver_writes import write_soon
from storage.models import AuditLog


def audit(
    session: AsyncSession,
    *,
    at: datetime,
    action: str,
    actor: str | None = None,
    subject: str = "",
    **detail: Any,
) -> None:
    """Add an audit row to the session (committed with the change it describes)."""
    session.add(AuditLog(**_row(at, action, actor, subject, detail)))


async def audit_soon(
    session: AsyncSession,
    *,
    at: datetime,
    action: str,
    actor: str | None = None,
    subject: str = "",
    **detail: Any,
) -> None:
    """`audit`, as a write queued for the connection's next hop where there is one
    (storage.driver_writes): the hot paths' audit rows, without the ORM's flush."""
    row = _row(at, action, actor, subject, detail)
    if not await write_soon(session, "audit", _insert, row):
        session.add(AuditLog(**row))


def _row(at: datetime, action: str, actor: str | None, subject: str, detail: dict) -> dict:
    return {
        "at": at,
        "actor_open_id": actor,
        "action": action,
        "subject": subject[:200],
        "detail": json.dumps(detail, ensure_ascii=False, default=str),
    }


def _insert():
    return insert(AuditLog.__table__)
