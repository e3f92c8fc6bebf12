"""Loading the policy file's roles and duties into the database (restart-safe)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.departments import DEFAULT_DEPARTMENT
from bot.domain.policy import Policy
from storage.models import Duty, Role, stored_key


async def sync_policy(
    session: AsyncSession, policy: Policy, now: datetime, department: str = DEFAULT_DEPARTMENT
) -> list[str]:
    """Upsert a department's roles and duties; duties the file no longer has become
    inactive (their tasks stay). Returns a line per change. Does not commit."""
    changes: list[str] = []
    at = "" if department == DEFAULT_DEPARTMENT else f" ({department})"
    stmt = select(Role).where(Role.department == department)
    roles = {r.key: r for r in (await session.exec(stmt)).all()}
    for role in policy.roles.values():
        wanted = {"name_zh": role.name_zh, "name_en": role.name_en, "reports_to": role.reports_to}
        row = roles.get(stored_key(department, role.key))
        if row is None:
            key = stored_key(department, role.key)
            session.add(Role(key=key, department=department, updated_at=now, **wanted))
            changes.append(f"+ role {role.key}{at}")
        elif any(getattr(row, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(row, k, v)
            row.updated_at = now
            session.add(row)
            changes.append(f"~ role {role.key}{at}")

    stmt = select(Duty).where(Duty.department == department)
    duties = {d.key: d for d in (await session.exec(stmt)).all()}
    for duty in policy.duties.values():
        wanted = {
            "role_key": duty.role,
            "name_zh": duty.name_zh,
            "name_en": duty.name_en,
            "kind": duty.due.kind,
            "clause": duty.clause,
            "inferred": duty.inferred,
            "spec": json.dumps(duty.to_json(), ensure_ascii=False, sort_keys=True, default=str),
            "active": True,
        }
        key = stored_key(department, duty.key)
        row = duties.get(key)
        if row is None:
            session.add(Duty(key=key, department=department, updated_at=now, **wanted))
            changes.append(f"+ duty {duty.key}{at}")
        elif any(getattr(row, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(row, k, v)
            row.updated_at = now
            session.add(row)
            changes.append(f"~ duty {duty.key}{at}")
    wanted_keys = {stored_key(department, k) for k in policy.duties}
    for key, row in duties.items():
        if key not in wanted_keys and row.active:
            row.active, row.updated_at = False, now
            session.add(row)
            changes.append(f"- duty {key} (no longer in the policy; its tasks are kept)")
    return changes
