"""The team as the scheduler sees it: active members, who manages whom, who is on leave.

Loaded once per pass (a tick, an activity change) so that planning, reminders and digests
resolve people the same way as the chat handlers do (`handlers.views.resolve_manager`):
the team file's `manager` override first, else the first active member (by open_id) of the
role the member's role reports to."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.policy import Policy
from storage.models import Leave, Member

# What the scheduler reads of a member (no timestamps: they cost a conversion per row).
ROSTER_COLUMNS = (
    Member.open_id,
    Member.name,
    Member.role_key,
    Member.manager_open_id,
    Member.is_admin,
    Member.active,
)


@dataclass
class Roster:
    policy: Policy
    members: dict[str, Member]  # active members by open_id
    leaves: dict[str, list[tuple[date, date]]] = field(default_factory=dict)

    _by_role: dict[str, list[Member]] = field(default_factory=dict, repr=False)

    @classmethod
    async def load(cls, session: AsyncSession, policy: Policy) -> Roster:
        # Plain rows with Member's attributes, not ORM objects: a tick loads the whole team
        # every minute, and rows are an order of magnitude cheaper to build.
        rows = (await session.exec(select(*ROSTER_COLUMNS).where(Member.active))).all()
        leaves: dict[str, list[tuple[date, date]]] = defaultdict(list)
        for leave in (await session.exec(select(Leave))).all():
            leaves[leave.open_id].append((leave.start_date, leave.end_date))
        return cls(policy, {m.open_id: m for m in rows}, dict(leaves))

    def get(self, open_id: str | None) -> Member | None:
        return self.members.get(open_id) if open_id else None

    def with_role(self, role_key: str) -> list[Member]:
        if not self._by_role:  # indexed once: reminders ask this for every task
            for m in sorted(self.members.values(), key=lambda m: m.open_id):
                self._by_role.setdefault(m.role_key, []).append(m)
        return list(self._by_role.get(role_key, ()))

    def manager_of(self, member: Member) -> Member | None:
        """Who this member reports to (the team file's override, else by role)."""
        if member.manager_open_id and member.manager_open_id in self.members:
            return self.members[member.manager_open_id]
        role = self.policy.roles.get(member.role_key)
        if role and role.reports_to:
            found = self.with_role(role.reports_to)
            return found[0] if found else None
        return None

    def admins(self) -> list[Member]:
        return sorted((m for m in self.members.values() if m.is_admin), key=lambda m: m.open_id)

    def on_leave(self, open_id: str, day: date) -> bool:
        return any(start <= day <= end for start, end in self.leaves.get(open_id, ()))

    def name(self, open_id: str | None) -> str:
        member = self.get(open_id)
        return member.name if member else (open_id or "—")
