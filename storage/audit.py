"""The audit log: who did what, when, to what."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

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
    session.add(
        AuditLog(
            at=at,
            actor_open_id=actor,
            action=action,
            subject=subject[:200],
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )
