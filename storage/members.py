"""Queries about the team."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Chat, Duty, Member


async def get_member(session: AsyncSession, open_id: str) -> Member | None:
    """An active member, or None."""
    member = await session.get(Member, open_id)
    return member if member is not None and member.active else None


async def list_admins(session: AsyncSession) -> list[Member]:
    stmt = select(Member).where(Member.active, Member.is_admin).order_by(Member.name)
    return list((await session.exec(stmt)).all())


async def list_team_chats(session: AsyncSession) -> list[Chat]:
    stmt = select(Chat).where(Chat.active, Chat.is_team).order_by(Chat.name)
    return list((await session.exec(stmt)).all())


async def first_member_with_role(session: AsyncSession, role_key: str) -> Member | None:
    stmt = select(Member).where(Member.active, Member.role_key == role_key).order_by(Member.open_id)
    return (await session.exec(stmt)).first()


async def get_duties(session: AsyncSession, keys: set[str]) -> dict[str, Duty]:
    if not keys:
        return {}
    rows = (await session.exec(select(Duty).where(col(Duty.key).in_(keys)))).all()
    return {d.key: d for d in rows}
