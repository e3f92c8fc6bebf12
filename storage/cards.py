"""Snapshots of the cards we sent, for understanding clicks by component name."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.driver_writes import write_soon
from storage.models import CardSnapshot


async def remember_card(
    session: AsyncSession, message_id: str, content: str, now: datetime
) -> None:
    """Store (or replace) the card JSON shown in a message. Does not commit."""
    if not message_id:
        return
    values = {"message_id": message_id, "content": content, "updated_at": now}
    if await write_soon(session, "card_snapshot", _upsert_sqlite, values):
        return
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(CardSnapshot).values(message_id=message_id, content=content, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["message_id"], set_={"content": stmt.excluded.content, "updated_at": now}
    )
    await session.exec(stmt)


def _upsert_sqlite():
    stmt = sqlite.insert(CardSnapshot.__table__)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["message_id"],
        set_={"content": excluded.content, "updated_at": excluded.updated_at},
    )


def _find_value(node: Any, name: str) -> dict | None:
    if isinstance(node, dict):
        if node.get("tag") == "button" and node.get("name") == name:
            for behavior in node.get("behaviors") or ():
                if behavior.get("type") == "callback" and isinstance(behavior.get("value"), dict):
                    return behavior["value"]
            return node.get("value") if isinstance(node.get("value"), dict) else None
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_value(child, name)
        if found is not None:
            return found
    return None


async def button_value(session: AsyncSession, message_id: str, name: str) -> dict | None:
    """The callback value of the button called `name` in the card shown in `message_id`."""
    if not message_id or not name:
        return None
    snapshot = await session.get(CardSnapshot, message_id)
    if snapshot is None:
        return None
    try:
        return _find_value(json.loads(snapshot.content), name)
    except ValueError:
        return None


async def shown_card(session: AsyncSession, message_id: str) -> dict | None:
    """The card JSON last shown in `message_id` (ours, sent or patched), or None."""
    if not message_id:
        return None
    snapshot = await session.get(CardSnapshot, message_id)
    if snapshot is None:
        return None
    try:
        card = json.loads(snapshot.content)
    except ValueError:
        return None
    return card if isinstance(card, dict) else None
