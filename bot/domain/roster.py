"""The team as the scheduler sees it: active members, who manages whom, who is on leave.

Loaded once per pass (a tick, an activity change) so that planning, reminders and digests
resolve people the same way as the chat handlers do (`handlers.views.resolve_manager`):
the team file's `manager` override first, else the first active member (by open_id) of the
role the member's role reports to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Generic, Protocol, TypeVar

from bot.domain.policy import Policy


class Person(Protocol):
    """What the roster needs of a member (``storage.models.Member`` is one)."""

    open_id: str
    name: str
    role_key: str
    manager_open_id: str | None
    is_admin: bool


P = TypeVar("P", bound=Person)


# How a departed member is shown wherever their name appears (digests, lists, the ledger).
LEFT_MARK = {"zh": "（已离开）", "en": " (left)"}
UNKNOWN_NAME = {"zh": "未知成员", "en": "unknown member"}


def shown_name(name: str | None, active: bool, lang: str = "zh") -> str:
    """A member's name for a list: departed members marked, never a raw open_id."""
    lang = "en" if lang == "en" else "zh"
    base = name or UNKNOWN_NAME[lang]
    return base if active else base + LEFT_MARK[lang]


@dataclass
class Roster(Generic[P]):
    """Built by ``storage.members.load_roster``; pure from then on."""

    policy: Policy
    members: dict[str, P]  # active members by open_id
    leaves: dict[str, list[tuple[date, date]]] = field(default_factory=dict)
    former: dict[str, str] = field(default_factory=dict)  # names of members who left
    _by_role: dict[str, list[P]] = field(default_factory=dict, repr=False)

    def get(self, open_id: str | None) -> P | None:
        return self.members.get(open_id) if open_id else None

    def with_role(self, role_key: str) -> list[P]:
        if not self._by_role:  # indexed once: a round asks this for every task
            for m in sorted(self.members.values(), key=lambda m: m.open_id):
                self._by_role.setdefault(m.role_key, []).append(m)
        return list(self._by_role.get(role_key, ()))

    def manager_of(self, member: P) -> P | None:
        """Who this member reports to (the team file's override, else by role)."""
        if member.manager_open_id and member.manager_open_id in self.members:
            return self.members[member.manager_open_id]
        role = self.policy.roles.get(member.role_key)
        if role and role.reports_to:
            found = self.with_role(role.reports_to)
            return found[0] if found else None
        return None

    def admins(self) -> list[P]:
        return sorted((m for m in self.members.values() if m.is_admin), key=lambda m: m.open_id)

    def on_leave(self, open_id: str, day: date) -> bool:
        return any(start <= day <= end for start, end in self.leaves.get(open_id, ()))

    def lang_of(self, open_id: str, default: str = "zh") -> str:
        """The language a member last wrote to the bot in (zh | en), else `default`."""
        return getattr(self.members.get(open_id), "lang", None) or default

    def name(self, open_id: str | None, lang: str = "zh") -> str:
        """A member's name; someone who left by name, marked; never a raw open_id."""
        member = self.get(open_id)
        if member is not None:
            return member.name
        if not open_id:
            return "—"
        return shown_name(self.former.get(open_id), False, lang)
