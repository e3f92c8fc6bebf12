"""Who takes over the open work of someone who left (the company or the team) or changed
role: the rules, pure. The I/O half (which tasks, the update, the cards) is
``handlers.people``.

* Each open task goes to the successor in the same role (the duty's role) when there is
  exactly one active member in it, other than the person who left.
* Otherwise it goes to the person's manager (the team file's `manager`, else the first
  member of the role their role reports to), who reassigns it; with no manager, to the
  first admin; with nobody at all it stays where it is (and the card says so).
* A task the new holder already has for the same duty and period (their own weekly
  report, say) is covered by theirs: it is cancelled, not doubled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.roster import P, Roster

SUCCESSOR, MANAGER, ADMIN, COVERED, NOBODY = "successor", "manager", "admin", "covered", "nobody"
# Why the work moves: left the company, taken off the team, another role, or found with a
# departed member later (a report they submitted was rejected after they left).
LEFT, REMOVED, ROLE, GONE = "left", "removed", "role", "gone"


@dataclass(frozen=True)
class Leaver:
    """The person whose work moves, with the role they leave (a Person for the roster)."""

    open_id: str
    name: str
    role_key: str
    manager_open_id: str | None = None
    is_admin: bool = False


@dataclass(frozen=True)
class OpenTask:
    id: int
    duty_key: str
    period_key: str
    role_key: str  # the duty's role ("" when the duty is gone from the policy)


@dataclass(frozen=True)
class Move:
    task_id: int
    to: str | None  # the new assignee (for COVERED: whose own task covers it)
    kind: str  # SUCCESSOR | MANAGER | ADMIN | COVERED | NOBODY


def plan_handoff(
    leaver: Leaver,
    tasks: Iterable[OpenTask],
    roster: Roster[P],
    taken: set[tuple[str, str, str]],
) -> list[Move]:
    """One move per task. `leaver` carries the role they leave (`role_key`) and their
    `manager_open_id`; `roster` is the team as it is after the change; `taken` holds
    (duty_key, period_key, open_id) of every task row that already exists (any status),
    since one person has one task per duty and period."""
    gone = leaver.open_id

    def others(role_key: str) -> list[P]:
        return [m for m in roster.with_role(role_key) if m.open_id != gone]

    manager = roster.manager_of(leaver)
    if manager is not None and manager.open_id == gone:
        manager = None
    admin = next((a for a in roster.admins() if a.open_id != gone), None)
    moves: list[Move] = []
    for task in tasks:
        peers = others(task.role_key or leaver.role_key)
        if len(peers) == 1:
            to, kind = peers[0].open_id, SUCCESSOR
        elif manager is not None:
            to, kind = manager.open_id, MANAGER
        elif admin is not None:
            to, kind = admin.open_id, ADMIN
        else:
            moves.append(Move(task.id, None, NOBODY))
            continue
        key = (task.duty_key, task.period_key, to)
        if key in taken:
            moves.append(Move(task.id, to, COVERED))
            continue
        taken.add(key)
        moves.append(Move(task.id, to, kind))
    return moves
