"""Loading the policy file's roles and duties into the database (restart-safe)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.policy import Policy
from storage.models import Duty, Role


async def sync_policy(session: AsyncSession, policy: Policy, now: datetime) -> list[str]:
    """Upsert roles and duties; duties the file no longer has become inactive (their tasks
    stay). Returns a line per change. Does not commit."""
    changes: list[str] = []
    roles = {r.key: r for r in (await session.exec(select(Role))).all()}
    for role in policy.roles.values():
        wanted = {"name_zh": role.name_zh, "name_en": role.name_en, "reports_to": role.reports_to}
        row = roles.get(role.key)
        if row is None:
            session.add(Role(key=role.key, updated_at=now, **wanted))
            changes.append(f"+ role {role.key}")
        elif any(getattr(row, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(row, k, v)
            row.updated_at = now
            session.add(row)
            changes.append(f"~ role {role.key}")

    duties = {d.key: d for d in (await session.exec(select(Duty))).all()}
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
        row = duties.get(duty.key)
        if row is None:
            session.add(Duty(key=duty.key, updated_at=now, **wanted))
            changes.append(f"+ duty {duty.key}")
        elif any(getattr(row, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(row, k, v)
            row.updated_at = now
            session.add(row)
            changes.append(f"~ duty {duty.key}")
    for key, row in duties.items():
        if key not in policy.duties and row.active:
            row.active, row.updated_at = False, now
            session.add(row)
            changes.append(f"- duty {key} (no longer in the policy; its tasks are kept)")
    return changes
