"""What changes between two versions of a policy, duty by duty and role by role (pure).

``dutybot policy diff OLD NEW`` pairs these changes with the live numbers (open tasks per
duty, active members per role) so an admin sees what applying NEW would touch: on
restart, added duties start producing tasks, removed duties become inactive (their open
tasks stay), and re-timed duties keep their open tasks' due dates while new periods
follow the new rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    """One difference. ``kind``: added / removed / retimed / changed (duties), role-added /
    role-removed / role-changed (roles)."""

    kind: str
    key: str  # duty key or role key
    role: str  # the role the duty belongs to (new role when it moved); the role itself
    what: tuple[str, ...] = field(default_factory=tuple)  # human-readable details

    @property
    def is_role(self) -> bool:
        return self.kind.startswith("role-")


def _json(x: Any) -> Any:
    return x.to_json() if x is not None else None


def diff_policies(old, new, lang: str = "en") -> list[Change]:
    """Changes from ``old`` to ``new`` (two loaded policies), roles first, in file order."""
    changes: list[Change] = []
    for key, role in new.roles.items():
        before = old.roles.get(key)
        if before is None:
            changes.append(Change("role-added", key, key, (f"{role.name_zh} / {role.name_en}",)))
            continue
        what = []
        if (before.name_zh, before.name_en) != (role.name_zh, role.name_en):
            what.append(
                f"renamed {before.name_zh} / {before.name_en} -> {role.name_zh} / {role.name_en}"
            )
        if before.reports_to != role.reports_to:
            what.append(f"reports to {before.reports_to or '-'} -> {role.reports_to or '-'}")
        if what:
            changes.append(Change("role-changed", key, key, tuple(what)))
    for key, role in old.roles.items():
        if key not in new.roles:
            changes.append(Change("role-removed", key, key, (f"{role.name_zh} / {role.name_en}",)))

    for key, duty in new.duties.items():
        before = old.duties.get(key)
        if before is None:
            changes.append(Change("added", key, duty.role, (f"due: {duty.due.describe(lang)}",)))
            continue
        retimed = _json(before.due) != _json(duty.due)
        what = []
        if retimed:
            what.append(f"due: {before.due.describe(lang)} -> {duty.due.describe(lang)}")
        if before.due.trigger != duty.due.trigger:  # what starts an SLA duty (logged in chat)
            what.append(f"trigger {before.due.trigger or '-'} -> {duty.due.trigger or '-'}")
        if before.role != duty.role:
            what.append(f"role {before.role} -> {duty.role}")
        if _json(before.report) != _json(duty.report):
            what.append(_report_change(before.report, duty.report))
        if old.approver_role_for(before) != new.approver_role_for(duty):
            a, b = old.approver_role_for(before), new.approver_role_for(duty)
            what.append(f"approver {a or 'outside'} -> {b or 'outside'}")
        if (before.name_zh, before.name_en) != (duty.name_zh, duty.name_en):
            what.append(f"renamed {before.name_zh} -> {duty.name_zh}")
        if before.clause != duty.clause:
            what.append("clause reworded")
        if before.inferred != duty.inferred:
            what.append("inferred" if duty.inferred else "no longer inferred")
        if what:
            changes.append(Change("retimed" if retimed else "changed", key, duty.role, tuple(what)))
    for key, duty in old.duties.items():
        if key not in new.duties:
            changes.append(
                Change("removed", key, duty.role, (f"was due: {duty.due.describe(lang)}",))
            )
    return changes


def _report_change(before, after) -> str:
    if before is None:
        return "now has a report (" + ", ".join(f.key for f in after.fields) + ")"
    if after is None:
        return "no longer has a report (mark done instead)"
    parts = []
    old_f = {f.key: f for f in before.fields}
    new_f = {f.key: f for f in after.fields}
    added = [k for k in new_f if k not in old_f]
    removed = [k for k in old_f if k not in new_f]
    changed = [k for k in new_f if k in old_f and new_f[k].to_json() != old_f[k].to_json()]
    if added:
        parts.append("+fields " + ", ".join(added))
    if removed:
        parts.append("-fields " + ", ".join(removed))
    if changed:
        parts.append("~fields " + ", ".join(changed))
    old_k = {k.key: k.to_json() for k in before.kpis}
    new_k = {k.key: k.to_json() for k in after.kpis}
    kpis = [k for k in set(old_k) | set(new_k) if old_k.get(k) != new_k.get(k)]
    if kpis:
        parts.append("KPIs " + ", ".join(sorted(kpis)))
    return "report: " + ("; ".join(parts) or "labels changed")
