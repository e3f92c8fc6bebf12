"""Queries about the team."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.departments import DEFAULT_DEPARTMENT
from bot.domain.policy import Policy
from bot.domain.roster import Roster
from storage import driver_reads
from storage.models import Chat, Duty, Leave, Member

# What the scheduler reads of a member: plain rows with Member's attributes, not ORM
# objects (a tick reads the whole team every minute; rows are an order of magnitude cheaper,
# and no timestamps: they cost a conversion per row).
ROSTER_COLUMNS = (
    Member.open_id,
    Member.name,
    Member.role_key,
    Member.manager_open_id,
    Member.is_admin,
    Member.active,
    Member.department,
    Member.lang,  # proactive cards to a person speak the language they last wrote in
)


async def load_roster(
    session: AsyncSession, policy: Policy, department: str | None = None
) -> Roster[Member]:
    """The active team (of one department, with its policy; None: everyone) and everyone's
    leave, for one pass of planning or sending."""
    stmt = select(*ROSTER_COLUMNS).where(Member.active)
    if department is not None:
        stmt = stmt.where(Member.department == department)
    rows = (await session.exec(stmt)).all()
    leaves: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for leave in (await session.exec(select(Leave))).all():
        leaves[leave.open_id].append((leave.start_date, leave.end_date))
    # People who left keep their names wherever their history shows (marked "left").
    gone = select(Member.open_id, Member.name).where(col(Member.active).is_(False))
    former = {open_id: name for open_id, name in (await session.exec(gone)).all()}
    return Roster(policy, {m.open_id: m for m in rows}, dict(leaves), former)


async def get_member(session: AsyncSession, open_id: str) -> Member | None:
    """An active member, or None."""
    member = await driver_reads.get(session, Member, open_id)
    return member if member is not None and member.active else None


async def list_admins(session: AsyncSession, department: str | None = None) -> list[Member]:
    stmt = select(Member).where(Member.active, Member.is_admin).order_by(Member.name)
    if department is not None:
        stmt = stmt.where(Member.department == department)
    return list((await session.exec(stmt)).all())


async def list_team_chats(session: AsyncSession, department: str | None = None) -> list[Chat]:
    stmt = select(Chat).where(Chat.active, Chat.is_team).order_by(Chat.name)
    if department is not None:
        stmt = stmt.where(Chat.department == department)
    return list((await session.exec(stmt)).all())


async def first_member_with_role(
    session: AsyncSession, role_key: str, department: str | None = None
) -> Member | None:
    """The first active member (by open_id) with this role in `department` (role keys are
    unique within a department; None: anywhere)."""
    # One driver call (the approver of a report, at every click on it): the first row only.
    where = '"active" = ? AND "role_key" = ?'
    params = [(Member.__table__.c.active, True), (None, role_key)]
    if department is not None:
        where += ' AND "department" = ?'
        params.append((None, department))

    def statement(columns):
        stmt = select(*columns).where(Member.active, Member.role_key == role_key)
        if department is not None:
            stmt = stmt.where(Member.department == department)
        return stmt.order_by(Member.open_id).limit(1)

    found = await driver_reads.load(
        session, Member, where + ' ORDER BY "open_id" LIMIT 1', params, statement
    )
    return found[0] if found else None


async def get_duties(session: AsyncSession, keys: set[str]) -> dict[str, Duty]:
    """Stored duties by their stored key (`storage.models.stored_key(department, key)`)."""
    if not keys:
        return {}
    rows = (await session.exec(select(Duty).where(col(Duty.key).in_(keys)))).all()
    return {d.key: d for d in rows}


async def save_member(
    session: AsyncSession,
    *,
    open_id: str,
    name: str,
    role_key: str,
    now,
    manager_open_id: str | None = None,
    department: str = DEFAULT_DEPARTMENT,
) -> tuple[Member, str | None]:
    """Add a member (to `department`) or move them to a role; returns (member, previous
    role or None)."""
    member = await session.get(Member, open_id)
    if member is None:
        member = Member(
            open_id=open_id,
            name=name,
            role_key=role_key,
            department=department,
            created_at=now,
            updated_at=now,
        )
        session.add(member)
        return member, None
    previous = member.role_key if member.active else None
    if not member.active:
        member.department = department  # back on the team, in the admin's department
    member.role_key, member.active, member.updated_at = role_key, True, now
    if name and (not member.name or member.name == member.open_id):
        member.name = name
    session.add(member)
    return member, previous


async def names_of(session: AsyncSession, open_ids: set[str]) -> dict[str, str]:
    """open_id -> name, for members past and present (history keeps its names)."""
    ids = {i for i in open_ids if i}
    if not ids:
        return {}
    rows = (await session.exec(select(Member).where(col(Member.open_id).in_(ids)))).all()
    return {m.open_id: m.name for m in rows}


async def all_names(session: AsyncSession) -> list[tuple[str, str, bool]]:
    """(open_id, name, active) of every member past and present, as plain rows."""
    stmt = select(Member.open_id, Member.name, Member.active)
    return [tuple(row) for row in (await session.exec(stmt)).all()]


async def list_active(session: AsyncSession) -> list[Member]:
    """Everyone on the team now, by name."""
    stmt = select(Member).where(Member.active).order_by(Member.name, Member.open_id)
    return list((await session.exec(stmt)).all())


async def get_chat(session: AsyncSession, chat_id: str) -> Chat | None:
    return await session.get(Chat, chat_id) if chat_id else None


async def add_chat(session: AsyncSession, chat_id: str, name: str, now) -> Chat:
    """A chat the bot was added to (not a team chat until an admin says so)."""
    chat = Chat(chat_id=chat_id, name=name[:200], is_team=False, created_at=now, updated_at=now)
    session.add(chat)
    return chat
