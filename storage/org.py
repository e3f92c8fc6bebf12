"""The team file (members and chats, TOML) and syncing it into the database."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.departments import DEFAULT_DEPARTMENT, Policies
from bot.domain.directory import ImportPlan
from storage.audit import audit
from storage.departments import (
    DepartmentEntry,
    move_open_tasks,
    parse_departments,
    save_departments,
    team_tables,
)
from storage.models import Chat, Marker, Member
from storage.queue import insert_ignore

MEMBER_KEYS = {"open_id", "name", "role", "manager", "admin", "leave", "department"}
CHAT_KEYS = {"chat_id", "name", "team", "department"}


class TeamFileError(Exception):
    """The team file is invalid; `errors` names each entry and line."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class MemberEntry:
    open_id: str
    name: str
    role: str
    manager: str | None = None
    admin: bool = False
    leave: tuple[tuple[date, date], ...] = ()
    department: str = DEFAULT_DEPARTMENT


@dataclass(frozen=True)
class ChatEntry:
    chat_id: str
    name: str
    team: bool = False
    department: str = DEFAULT_DEPARTMENT


@dataclass(frozen=True)
class TeamFile:
    members: tuple[MemberEntry, ...] = ()
    chats: tuple[ChatEntry, ...] = ()
    # The file's [[departments]]; None: this team does not say (`org import` adds people
    # to the team as it is), so the departments stay as they are.
    departments: tuple[DepartmentEntry, ...] | None = ()


@dataclass
class SyncReport:
    changes: list[str] = field(default_factory=list)
    unchanged: int = 0
    departed: list[str] = field(default_factory=list)  # open_ids deactivated by this sync
    role_changes: list[tuple[str, str]] = field(default_factory=list)  # (open_id, old role)

    def render(self) -> str:
        lines = self.changes or ["no changes"]
        return "\n".join(lines + [f"{self.unchanged} unchanged"])


def _header_lines(text: str, table: str) -> list[int]:
    pattern = re.compile(rf"^[ \t]*\[\[[ \t]*{table}[ \t]*\]\]", re.MULTILINE)
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def parse_team_file(
    text: str, role_keys: set[str], source: str = "team file", base_dir: Path | None = None
) -> TeamFile:
    """Validate a team file; raise TeamFileError with every problem found. `role_keys` are
    the default policy's; a file with `[[departments]]` reads each department's policy
    (paths relative to `base_dir`, the team file's folder) and checks every member's role
    against their department's."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TeamFileError([f"{source}: {exc}"]) from exc
    errors: list[str] = []
    unknown_top = set(data) - {"members", "chats", "departments"}
    if unknown_top:
        errors.append(f"{source}: unknown section(s) {', '.join(sorted(unknown_top))}")

    member_lines = _header_lines(text, "members")
    chat_lines = _header_lines(text, "chats")

    def where(kind: str, lines: list[int], i: int) -> str:
        line = f" (line {lines[i]})" if i < len(lines) else ""
        return f"{kind}[{i + 1}]{line}"

    dept_lines = _header_lines(text, "departments")
    departments = parse_departments(
        data.get("departments"),
        partial(where, "departments", dept_lines),
        base_dir or Path("."),
        errors,
    )
    roles_of = {d.key: set(d.policy.roles) for d in departments}
    # Without [[departments]] everyone is in the default department; with them, an entry
    # that names no department is in the first one.
    first = departments[0].key if departments else DEFAULT_DEPARTMENT
    roles_of.setdefault(first, role_keys)

    def department_of(raw: dict, at: str) -> str | None:
        value = raw.get("department", first)
        if isinstance(value, str) and value in roles_of:
            return value
        if "departments" not in data:
            errors.append(
                f"{at}: unknown department {value!r} (the file declares no [[departments]])"
            )
        else:
            errors.append(
                f"{at}: unknown department {value!r} (one of {', '.join(sorted(roles_of))})"
            )
        return None

    raw_members = data.get("members", [])
    raw_chats = data.get("chats", [])
    if not isinstance(raw_members, list) or not isinstance(raw_chats, list):
        raise TeamFileError([f"{source}: use [[members]] and [[chats]] tables"])

    members: list[MemberEntry] = []
    places: list[str] = []  # where each entry of `members` is, for messages
    seen: dict[str, str] = {}
    member_at = partial(where, "members", member_lines)
    for at, raw in team_tables(raw_members, member_at, MEMBER_KEYS, errors):
        open_id, name, role = raw.get("open_id"), raw.get("name"), raw.get("role")
        if not isinstance(open_id, str) or not open_id.strip():
            errors.append(f"{at}: open_id is required")
            continue
        open_id = open_id.strip()
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{at} {open_id}: name is required")
        department = department_of(raw, f"{at} {open_id}")
        allowed = roles_of.get(department or "", set())
        in_dept = f" in department {department}" if departments else ""
        if department is None:
            pass  # said above; the role cannot be checked without its department
        elif not isinstance(role, str) or not role:
            errors.append(f"{at} {open_id}: role is required (one of {', '.join(sorted(allowed))})")
        elif role not in allowed:
            errors.append(
                f"{at} {open_id}: unknown role '{role}'{in_dept} "
                f"(one of {', '.join(sorted(allowed))})"
            )
        if open_id in seen:
            errors.append(f"{at}: duplicate open_id {open_id} (first in {seen[open_id]})")
        seen.setdefault(open_id, at)
        manager = raw.get("manager")
        if manager is not None and (not isinstance(manager, str) or not manager):
            errors.append(f"{at} {open_id}: manager must be an open_id")
            manager = None
        admin = raw.get("admin", False)
        if not isinstance(admin, bool):
            errors.append(f"{at} {open_id}: admin must be true or false")
        leave: list[tuple[date, date]] = []
        for span in raw.get("leave", []):
            try:
                start, end = (date.fromisoformat(str(d)) for d in span)
                if end < start:
                    raise ValueError
                leave.append((start, end))
            except (TypeError, ValueError):
                errors.append(
                    f'{at} {open_id}: leave entries look like ["2026-12-01", "2026-12-05"]'
                )
        places.append(at)
        members.append(
            MemberEntry(
                open_id,
                str(name or "").strip(),
                str(role or ""),
                manager,
                admin is True,
                tuple(leave),
                department or first,
            )
        )
    department_by_id = {m.open_id: m.department for m in members}
    for i, m in enumerate(members):
        if m.manager and m.manager not in seen:
            errors.append(
                f"{seen.get(m.open_id, f'members[{i + 1}]')} {m.open_id}: manager {m.manager} is not a member of the team"
            )
        elif m.manager and department_by_id[m.manager] != m.department:
            errors.append(
                f"{seen[m.open_id]} {m.open_id}: manager {m.manager} is in department "
                f"{department_by_id[m.manager]}, not {m.department} (approvals stay inside "
                "a department)"
            )
        if m.manager == m.open_id:
            errors.append(f"{seen[m.open_id]} {m.open_id}: cannot be their own manager")

    chats: list[ChatEntry] = []
    seen_chats: set[str] = set()
    chat_at = partial(where, "chats", chat_lines)
    for at, raw in team_tables(raw_chats, chat_at, CHAT_KEYS, errors):
        chat_id, name, team = raw.get("chat_id"), raw.get("name", ""), raw.get("team", False)
        if not isinstance(chat_id, str) or not chat_id.strip():
            errors.append(f"{at}: chat_id is required")
            continue
        if chat_id in seen_chats:
            errors.append(f"{at}: duplicate chat_id {chat_id}")
        seen_chats.add(chat_id)
        if not isinstance(team, bool):
            errors.append(f"{at} {chat_id}: team must be true or false")
        department = department_of(raw, f"{at} {chat_id}") or first
        chats.append(
            ChatEntry(chat_id.strip(), str(name).strip() or chat_id, team is True, department)
        )

    if errors:
        raise TeamFileError(errors)
    return TeamFile(tuple(members), tuple(chats), departments)


def load_team_file(path: str | Path, role_keys: set[str]) -> TeamFile:
    """Read and validate a team file from disk (department policies relative to it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TeamFileError([f"{path}: cannot read ({exc})"]) from exc
    return parse_team_file(text, role_keys, source=str(path), base_dir=path.parent)


def team_policies(team: TeamFile, default) -> Policies:
    """The policies a team file's departments run (the default policy for the rest)."""
    from bot.domain.departments import Department

    declared = team.departments or ()
    return Policies(default, tuple(Department(d.key, d.name, d.policy) for d in declared))


SANDBOX_SOURCE = "sandbox demo"
"""The `source` of the sandbox's own demo team: the only team write that is not real."""
REAL_TEAM_MARKER = "database:real-team"
SANDBOX_MARKER = "database:sandbox"


async def _mark_origin(session: AsyncSession, source: str, now: datetime) -> None:
    """Record where the team came from, so the sandbox can refuse a real team's database.

    A team file, `org import` or a directory import marks the database as holding a real
    team; the sandbox's demo marks it as a sandbox database. A directory import inside the
    sandbox (the emulator's directory) leaves a sandbox database a sandbox."""
    if source == SANDBOX_SOURCE:
        key = SANDBOX_MARKER
    elif source.startswith("chat import") and await session.get(Marker, SANDBOX_MARKER):
        return
    else:
        key = REAL_TEAM_MARKER
    await insert_ignore(session, Marker, {"key": key, "created_at": now}, "key")


async def real_team_reason(session: AsyncSession, demo_ids: frozenset[str]) -> str | None:
    """Why this database holds a real team (None: empty or the sandbox's own): a team
    synced from a team file or the directory, or members the demo does not have."""
    if await session.get(Marker, REAL_TEAM_MARKER) is not None:
        return "its team was synced from a team file or the Feishu directory"
    members = (await session.exec(select(Member.open_id))).all()
    strangers = sorted(set(members) - demo_ids)
    if strangers:
        return f"it has {len(strangers)} member(s) who are not in the sandbox's demo team"
    return None


async def apply_team(
    session: AsyncSession,
    team: TeamFile,
    now: datetime,
    *,
    source: str = "org sync",
    policies: Policies | None = None,
) -> SyncReport:
    """Make the database match the file: add, update, deactivate; the departments too.
    A member who moves to another department takes their open tasks along where the new
    department's policy (`policies`) has the same duty; the rest are cancelled. Does not
    commit."""
    report = SyncReport()
    await _mark_origin(session, source, now)
    if team.departments is not None:
        report.changes += await save_departments(session, team.departments, now)
    existing = {m.open_id: m for m in (await session.exec(select(Member))).all()}
    for entry in team.members:
        current = existing.get(entry.open_id)
        wanted = {
            "name": entry.name,
            "role_key": entry.role,
            "manager_open_id": entry.manager,
            "is_admin": entry.admin,
            "active": True,
            "department": entry.department,
        }
        if current is None:
            session.add(Member(open_id=entry.open_id, created_at=now, updated_at=now, **wanted))
            in_dept = f" in {entry.department}" if entry.department != DEFAULT_DEPARTMENT else ""
            report.changes.append(
                f"+ member {entry.name} ({entry.open_id}) as {entry.role}{in_dept}"
            )
            audit(
                session,
                at=now,
                action="member.added",
                subject=entry.open_id,
                source=source,
                **wanted,
            )
            continue
        diffs = [
            f"{k} {getattr(current, k)!r} → {v!r}"
            for k, v in wanted.items()
            if getattr(current, k) != v
        ]
        if diffs:
            if current.department != entry.department:
                policy = policies.get(entry.department) if policies is not None else None
                moved, cancelled = await move_open_tasks(
                    session, entry.open_id, entry.department, policy, now
                )
                if moved or cancelled:
                    diffs.append(f"{moved} open task(s) moved, {cancelled} cancelled")
            if current.active and current.role_key != entry.role:
                report.role_changes.append((entry.open_id, current.role_key))
            for k, v in wanted.items():
                setattr(current, k, v)
            current.updated_at = now
            session.add(current)
            report.changes.append(f"~ member {entry.name} ({entry.open_id}): {', '.join(diffs)}")
            audit(
                session,
                at=now,
                action="member.updated",
                subject=entry.open_id,
                source=source,
                changes=diffs,
            )
        else:
            report.unchanged += 1
    await _sync_leave(session, team, now, report)
    listed = {m.open_id for m in team.members}
    for open_id, member in existing.items():
        if open_id not in listed and member.active:
            member.active = False
            member.updated_at = now
            session.add(member)
            report.departed.append(open_id)
            report.changes.append(
                f"- member {member.name} ({open_id}) deactivated (not in the file)"
            )
            audit(session, at=now, action="member.deactivated", subject=open_id, source=source)

    chats = {c.chat_id: c for c in (await session.exec(select(Chat))).all()}
    for entry in team.chats:
        current = chats.get(entry.chat_id)
        if current is None:
            session.add(
                Chat(
                    chat_id=entry.chat_id,
                    name=entry.name,
                    is_team=entry.team,
                    department=entry.department,
                    created_at=now,
                    updated_at=now,
                )
            )
            in_dept = f" of {entry.department}" if entry.department != DEFAULT_DEPARTMENT else ""
            report.changes.append(
                f"+ chat {entry.name} ({entry.chat_id})"
                f"{' as team chat' if entry.team else ''}{in_dept}"
            )
        elif (current.name, current.is_team, current.active, current.department) != (
            entry.name,
            entry.team,
            True,
            entry.department,
        ):
            current.name, current.is_team, current.active, current.updated_at = (
                entry.name,
                entry.team,
                True,
                now,
            )
            moved = current.department != entry.department
            current.department = entry.department
            session.add(current)
            report.changes.append(
                f"~ chat {entry.name} ({entry.chat_id}): team={entry.team}"
                + (f", department={entry.department}" if moved else "")
            )
        else:
            report.unchanged += 1
    listed_chats = {c.chat_id for c in team.chats}
    for chat_id, chat in chats.items():
        if chat_id not in listed_chats and chat.active:
            chat.active, chat.updated_at = False, now
            session.add(chat)
            report.changes.append(f"- chat {chat.name} ({chat_id}) deactivated (not in the file)")
    return report


async def import_people(
    session: AsyncSession,
    plan: ImportPlan,
    now: datetime,
    *,
    source: str = "org import",
    department: str = DEFAULT_DEPARTMENT,
) -> SyncReport:
    """Add or update the plan's placed people on top of the current team (nobody is
    deactivated, chats, managers and leave stay); the leader becomes an admin, admins stay
    admins; everyone placed is in `department` (the plan's roles are that department's). Like `apply_team`, idempotent: a second run reports no changes. No commit."""
    current = (await session.exec(select(Member).where(Member.active))).all()
    entries = {
        m.open_id: MemberEntry(
            m.open_id, m.name, m.role_key, m.manager_open_id, m.is_admin, (), m.department
        )
        for m in current
    }
    for placed in plan.placed:
        person, before = placed.person, entries.get(placed.person.open_id)
        entries[person.open_id] = MemberEntry(
            person.open_id,
            person.name,
            placed.role,
            before.manager if before else None,
            placed.admin or (before.admin if before else False),
            (),
            department,
        )
    chats = (await session.exec(select(Chat).where(Chat.active))).all()
    team = TeamFile(
        tuple(entries.values()),
        tuple(ChatEntry(c.chat_id, c.name, c.is_team, c.department) for c in chats),
        None,  # the departments stay as they are
    )
    return await apply_team(session, team, now, source=source)


async def _sync_leave(
    session: AsyncSession, team: TeamFile, now: datetime, report: SyncReport
) -> None:
    """Add the file's leave spans (idempotently). Spans are never removed by a sync: leave
    entered in chat has no line in the file; cancel leave in chat (销假 / cancel leave)."""
    from storage.leave import add_leave

    for entry in team.members:
        for start, end in entry.leave:
            if await add_leave(session, entry.open_id, start, end, now):
                report.changes.append(f"+ leave {entry.name} ({entry.open_id}) {start} – {end}")
                audit(
                    session,
                    at=now,
                    action="leave.added",
                    subject=entry.open_id,
                    source="org sync",
                    start=start,
                    end=end,
                )
