"""Departments: the team file's `[[departments]]` (each with its own policy file), kept in
the `departments` table so that the running bot builds every department's policy from
what the last `org sync` read."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.departments import (
    DEFAULT_DEPARTMENT,
    MAX_DEPARTMENT_KEY,
    Policies,
)
from bot.domain.policy import Policy, PolicyError, loads_policy
from storage.models import Department as DepartmentRow
from storage.models import Task, TaskStatus
from storage.plain import policies_from_rows

DEPARTMENT_KEYS = {"key", "name", "policy"}
KEY_PATTERN = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{MAX_DEPARTMENT_KEY - 1}}}$")


@dataclass(frozen=True)
class DepartmentEntry:
    key: str
    name: str
    policy_path: str  # as resolved when the file was read
    policy_text: str
    policy: Policy


def team_tables(
    raw: list, where: Callable[[int], str], allowed: frozenset[str] | set[str], errors: list[str]
) -> Iterator[tuple[str, dict]]:
    """Each table of a team file's array of tables (`[[members]]`, …) with where it is;
    an entry that is not a table, and every unknown key, is an error."""
    for i, table in enumerate(raw):
        at = where(i)
        if not isinstance(table, dict):
            errors.append(f"{at}: must be a table")
            continue
        for key in sorted(set(table) - allowed):
            errors.append(
                f"{at}: unknown key '{key}' (expected one of {', '.join(sorted(allowed))})"
            )
        yield at, table


def parse_departments(
    raw: object, where, base_dir: Path, errors: list[str]
) -> tuple[DepartmentEntry, ...]:
    """The `[[departments]]` tables; each policy path is relative to the team file and is
    read and checked here (its errors are the team file's errors)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append("use [[departments]] tables (key, name, policy)")
        return ()
    found: list[DepartmentEntry] = []
    seen: dict[str, str] = {}
    for at, table in team_tables(raw, where, DEPARTMENT_KEYS, errors):
        key, name, policy = table.get("key"), table.get("name"), table.get("policy")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            errors.append(
                f"{at}: key is required: lower-case letters, digits, '-' or '_' "
                f'(at most {MAX_DEPARTMENT_KEY}), e.g. "sales"'
            )
            continue
        if key in seen:
            errors.append(f"{at}: duplicate department key '{key}' (first in {seen[key]})")
            continue
        seen[key] = at
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{at} {key}: name is required")
            name = key
        if not isinstance(policy, str) or not policy.strip():
            errors.append(f'{at} {key}: policy is required: a policy file, e.g. "sales.toml"')
            continue
        path = (base_dir / policy).resolve()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{at} {key}: cannot read policy {policy} ({exc})")
            continue
        try:
            loaded = loads_policy(text, str(path))
        except PolicyError as exc:
            errors.append(f"{at} {key}: policy {policy} has errors:")
            errors += [f"  {line}" for line in exc.errors]
            continue
        found.append(DepartmentEntry(key, name.strip(), str(path), text, loaded))
    return tuple(found)


async def save_departments(
    session: AsyncSession, entries: tuple[DepartmentEntry, ...], now: datetime
) -> list[str]:
    """Make the `departments` table match the file (departments no longer declared become
    inactive). Returns a line per change. Does not commit."""
    changes: list[str] = []
    rows = {d.key: d for d in (await session.exec(select(DepartmentRow))).all()}
    for entry in entries:
        wanted = {
            "name": entry.name,
            "policy_path": entry.policy_path,
            "policy_text": entry.policy_text,
            "active": True,
        }
        row = rows.get(entry.key)
        if row is None:
            session.add(DepartmentRow(key=entry.key, created_at=now, updated_at=now, **wanted))
            changes.append(f"+ department {entry.key} ({entry.name}), policy {entry.policy_path}")
        elif any(getattr(row, k) != v for k, v in wanted.items()):
            what = [k for k, v in wanted.items() if getattr(row, k) != v]
            for k, v in wanted.items():
                setattr(row, k, v)
            row.updated_at = now
            session.add(row)
            changes.append(f"~ department {entry.key}: {', '.join(what)}")
    declared = {e.key for e in entries}
    for key, row in rows.items():
        if key not in declared and row.active:
            row.active, row.updated_at = False, now
            session.add(row)
            changes.append(f"- department {key} (not in the file)")
    return changes


async def load_policies(session: AsyncSession, default: Policy) -> Policies:
    """Every active department's policy, from the text the last `org sync` stored; a stored
    policy that no longer reads is left out (its department falls back to the default)."""
    stmt = select(DepartmentRow).where(DepartmentRow.active).order_by(DepartmentRow.created_at)
    rows = (await session.exec(stmt)).all()
    return policies_from_rows(
        default, ((r.key, r.name, r.policy_path, r.policy_text) for r in rows)
    )


async def departments_version(session: AsyncSession) -> tuple:
    """Changes whenever `org sync` changes a department (cheap: one small table)."""
    stmt = select(DepartmentRow.key, DepartmentRow.updated_at, DepartmentRow.active)
    return tuple(sorted((await session.exec(stmt)).all(), key=lambda r: r[0]))


async def move_open_tasks(
    session: AsyncSession, open_id: str, department: str, policy: Policy | None, now: datetime
) -> tuple[int, int]:
    """A member moved to another department: their open tasks go with them where the new
    department's policy has the same duty, the others are cancelled (finished work stays
    where it was done). Returns (moved, cancelled). Does not commit."""
    open_tasks = (
        select(Task.id, Task.duty_key)
        .where(Task.assignee_open_id == open_id, col(Task.status).in_(TaskStatus.OPEN_STATES))
        .where(Task.department != department)
    )
    rows = (await session.exec(open_tasks)).all()
    keep = [i for i, duty in rows if policy is None or duty in policy.duties]
    drop = [i for i, duty in rows if i not in set(keep)]
    if keep:
        await session.exec(
            update(Task)
            .where(col(Task.id).in_(keep))
            .values(department=department, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    if drop:
        await session.exec(
            update(Task)
            .where(col(Task.id).in_(drop))
            .values(status=TaskStatus.CANCELLED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(keep), len(drop)


__all__ = [
    "DEFAULT_DEPARTMENT",
    "DepartmentEntry",
    "departments_version",
    "load_policies",
    "move_open_tasks",
    "parse_departments",
    "save_departments",
]
