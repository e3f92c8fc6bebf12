"""Rules between the tables of a policy file, on specs that pydantic already validated:
duplicate keys, cycles in reports_to, KPIs naming real number fields, who may approve,
the order of the reminder ladder. Each rule returns ``Issue``s; the loader collects them
all before it gives up, so one run of ``dutybot policy check`` lists every problem."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bot.domain.policy.model import NUMERIC_TYPES
from bot.domain.policy.schema import DutySpec, ReportSpec, RoleSpec, TriggerSpec


@dataclass(frozen=True)
class Issue:
    """One problem: where (``duties[0].due.weekday``), what, and whose (``duty
    staff.weekly``, when the table has a key) so that a long file is easy to search."""

    path: str
    message: str
    owner: str = ""

    def __str__(self) -> str:
        where = f"{self.path} ({self.owner})" if self.owner else self.path
        return f"{where}: {self.message}"


def role_issues(roles: list[tuple[int, RoleSpec]]) -> list[Issue]:
    """Duplicate role keys and cycles in reports_to."""
    issues: list[Issue] = []
    index_of: dict[str, int] = {}
    parents: dict[str, str] = {}
    for i, role in roles:
        if role.key in index_of:
            issues.append(
                Issue(
                    f"roles[{i}].key",
                    f"duplicate role key {role.key!r} (also roles[{index_of[role.key]}])",
                    f"role {role.key}",
                )
            )
            continue
        index_of[role.key] = i
        if role.reports_to:
            parents[role.key] = role.reports_to
    reported: set[str] = set()
    for key in index_of:
        chain = [key]
        cur = parents.get(key)
        while cur is not None:
            if cur in chain:
                cycle = chain[chain.index(cur) :] + [cur]
                if not set(cycle) & reported:
                    issues.append(
                        Issue(
                            f"roles[{index_of[cycle[0]]}].reports_to",
                            "cycle in reports_to: " + " -> ".join(cycle),
                            f"role {cycle[0]}",
                        )
                    )
                    reported |= set(cycle)
                break
            chain.append(cur)
            cur = parents.get(cur)
    return issues


def duty_issues(duty: DutySpec, path: str) -> list[Issue]:
    """Who approves, and the report's own rules."""
    owner = f"duty {duty.key}"
    issues: list[Issue] = []
    if duty.approver_role is not None and duty.report is None:
        issues.append(
            Issue(f"{path}.approver_role", "set, but the duty has no [duties.report]", owner)
        )
    elif duty.approver_role and duty.approver_role == duty.role:
        issues.append(Issue(f"{path}.approver_role", "a role cannot approve its own duty", owner))
    if duty.report is not None:
        issues += report_issues(duty.report, f"{path}.report", owner)
    return issues


def report_issues(report: ReportSpec, path: str, owner: str) -> list[Issue]:
    issues: list[Issue] = []
    by_key: dict[str, int] = {}
    for i, f in enumerate(report.fields):
        if f.key in by_key:
            issues.append(
                Issue(
                    f"{path}.fields[{i}].key",
                    f"duplicate field key {f.key!r} (also fields[{by_key[f.key]}])",
                    owner,
                )
            )
        else:
            by_key[f.key] = i
    kpi_index: dict[str, int] = {}
    for i, kpi in enumerate(report.kpis):
        kp = f"{path}.kpis[{i}]"
        if kpi.key in kpi_index:
            issues.append(
                Issue(
                    f"{kp}.key",
                    f"duplicate KPI key {kpi.key!r} (also kpis[{kpi_index[kpi.key]}])",
                    owner,
                )
            )
        else:
            kpi_index[kpi.key] = i
        for ref in ("numerator", "denominator"):
            name = getattr(kpi, ref)
            if name is None:
                continue
            if name not in by_key:
                known = ", ".join(by_key) or "none"
                issues.append(
                    Issue(f"{kp}.{ref}", f"unknown field {name!r} (fields: {known})", owner)
                )
                continue
            field = report.fields[by_key[name]]
            if field.type not in NUMERIC_TYPES:
                issues.append(
                    Issue(
                        f"{kp}.{ref}",
                        f"field {name!r} is of type {field.type!r}, not a number type",
                        owner,
                    )
                )
    return issues


def duplicate_duty_issues(duties: list[tuple[int, DutySpec]]) -> list[Issue]:
    issues: list[Issue] = []
    first: dict[str, int] = {}
    for i, duty in duties:
        if duty.key in first:
            issues.append(
                Issue(
                    f"duties[{i}].key",
                    f"duplicate duty key {duty.key!r} (also duties[{first[duty.key]}])",
                    f"duty {duty.key}",
                )
            )
        else:
            first[duty.key] = i
    return issues


def step_issues(steps: list[tuple[str | None, int]], path: str) -> list[Issue]:
    """The reminder ladder, as (key, offset) pairs: distinct keys, increasing offsets."""
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for i, (key, _) in enumerate(steps):
        if key is None:
            continue
        if key in seen:
            issues.append(
                Issue(f"{path}[{i}].key", f"duplicate step key {key!r} (also {path}[{seen[key]}])")
            )
        else:
            seen[key] = i
    offsets = [offset for _, offset in steps]
    if offsets != sorted(offsets):
        issues.append(Issue(path, "steps must be in increasing offset order"))
    return issues


def trigger_issues(triggers: list[tuple[int, TriggerSpec]]) -> list[Issue]:
    """Duplicate trigger keys, and a word that two triggers (or one, twice) claim: a chat
    message must start exactly one trigger."""
    issues: list[Issue] = []
    first: dict[str, int] = {}
    words: dict[str, str] = {}
    for i, trig in triggers:
        owner = f"trigger {trig.key}"
        if trig.key in first:
            issues.append(
                Issue(
                    f"triggers[{i}].key",
                    f"duplicate trigger key {trig.key!r} (also triggers[{first[trig.key]}])",
                    owner,
                )
            )
        else:
            first[trig.key] = i
        for lang in ("zh", "en"):
            for j, word in enumerate(getattr(trig, f"words_{lang}")):
                folded = unicodedata.normalize("NFKC", word).casefold()
                where = f"triggers[{i}].words_{lang}[{j}]"
                if folded in words:
                    issues.append(Issue(where, f"word {word!r} is also at {words[folded]}", owner))
                else:
                    words[folded] = where
    return issues
