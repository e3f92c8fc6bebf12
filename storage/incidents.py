"""Whose department a message that could not be delivered belongs to, so the admins of
that department hear of it (bot.delivery.undelivered): the department its sender noted,
else the Feishu task's (a Tasks mirror call, uuid `ft<task id>.<seq>`), else its
receiver's (a member by open_id, a known chat; a card patch: the receiver of the card it
replaces). None: not known (the caller tells every admin)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Chat, Member, OutboundMessage, Task

TASK_UUID = re.compile(r"ft(\d+)\.\d+")


@dataclass(frozen=True)
class Lost:
    uuid: str
    department: str | None = None
    receive_id_type: str | None = None
    receive_id: str | None = None
    target_uuid: str | None = None


async def departments_of(session: AsyncSession, lost: list[Lost]) -> dict[str, str | None]:
    """uuid -> department (None when not known), in a few queries for any number of rows."""
    found: dict[str, str | None] = {u.uuid: u.department for u in lost}
    rest = [u for u in lost if not u.department]
    task_of = {u.uuid: int(m.group(1)) for u in rest if (m := TASK_UUID.fullmatch(u.uuid))}
    # A patch names the card it replaces: that card's receiver is the patch's.
    targets = {u.target_uuid for u in rest if u.target_uuid and not u.receive_id}
    target_rows: dict[str, tuple] = {}
    if targets:
        stmt = select(
            OutboundMessage.uuid,
            OutboundMessage.department,
            OutboundMessage.receive_id_type,
            OutboundMessage.receive_id,
        ).where(col(OutboundMessage.uuid).in_(targets))
        target_rows = {row[0]: tuple(row[1:]) for row in (await session.exec(stmt)).all()}
    receivers: dict[str, tuple[str | None, str | None, str | None]] = {}
    for u in rest:
        if u.uuid in task_of:
            continue
        noted, rtype, rid = u.department, u.receive_id_type, u.receive_id
        if not rid and u.target_uuid in target_rows:
            noted, rtype, rid = target_rows[u.target_uuid]
        receivers[u.uuid] = (noted, rtype, rid)
    open_ids = {rid for _, rtype, rid in receivers.values() if rid and rtype == "open_id"}
    chat_ids = {rid for _, rtype, rid in receivers.values() if rid and rtype != "open_id"}
    member_dept = await _pairs(session, Member.open_id, Member.department, open_ids)
    chat_dept = await _pairs(session, Chat.chat_id, Chat.department, chat_ids)
    task_dept = await _pairs(session, Task.id, Task.department, set(task_of.values()))
    for uuid, task_id in task_of.items():
        found[uuid] = task_dept.get(task_id)
    for uuid, (noted, rtype, rid) in receivers.items():
        found[uuid] = noted or (member_dept if rtype == "open_id" else chat_dept).get(rid or "")
    return found


async def _pairs(session: AsyncSession, key, value, keys: set) -> dict:
    if not keys:
        return {}
    rows = (await session.exec(select(key, value).where(col(key).in_(keys)))).all()
    return dict(rows)
