"""A Draft as a policy TOML file, with review notes as comments next to what they are about.

The policy format has no place for notes, so every "check this" goes into a ``# REVIEW:``
comment: the file loads as it is, and the admin finds each guess where it was made.
"""

from __future__ import annotations

import json
from typing import Any

from bot.domain.policy_draft.extract import Draft, DraftDuty, DraftRole

_DUE_ORDER = ("kind", "weekday", "days", "month", "day", "before_day", "workday", "before_start", "covers",
              "anchor", "offset", "unit", "hours", "trigger", "time", "adjust")  # fmt: skip


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    # JSON string escapes are a subset of TOML basic-string escapes
    return json.dumps(str(v), ensure_ascii=False)


def _comment(lines: list[str], prefix: str = "# REVIEW: ") -> list[str]:
    return [f"{prefix}{line}".replace("\n", " ") for line in lines]


def render(draft: Draft, source_name: str) -> str:
    out: list[str] = [
        f"# Policy DRAFT made by `dutybot policy draft` from {source_name}.",
        "# Every duty marked inferred = true, and every '# REVIEW:' line, is a guess to check.",
        "# Duties the document states without a time are listed as comments under their role.",
        "# Check the edited file with `dutybot policy check FILE`; the format is documented in",
        "# bot/policies/marketing.toml.",
        "",
        "[policy]",
        f"name = {value(draft.title or 'Policy draft')}",
        f"name_en = {value(draft.title_en or draft.title or 'Policy draft')}",
    ]
    out += _comment(draft.notes)
    out += [
        'timezone = "Asia/Shanghai"',
        'default_due_time = "18:00"',
        "rejection_redo_workdays = 2",
    ]
    if draft.approval_window is not None:  # stated: "收到后2个工作日内完成审批"
        out += _comment(draft.approval_notes)
        out.append(f"approval_window_workdays = {draft.approval_window}")
    out += [
        "",
        "[policy.reminders]",
        'working_hours = { start = "09:30", end = "18:30" }',
    ]
    steps = [("heads_up", -1, ["assignee"]), ("due_today", 0, ["assignee"]),
             ("overdue", 1, ["assignee", "manager-of-assignee"])]  # fmt: skip
    top = _top_role(draft.roles)
    if top:
        steps.append(("escalated", 3, ["assignee", "manager-of-assignee", top]))
    for key, offset, who in steps:
        out += ["", "[[policy.reminders.steps]]", f'key = "{key}"', f"offset = {offset}",
                f"who = {value(who)}"]  # fmt: skip
    if draft.triggers:
        out += ["", "# " + "=" * 88, "# Triggers: what starts the SLA duties (logged in chat)",
                "# " + "=" * 88]  # fmt: skip
        for trig in draft.triggers:
            out += ["", "[[triggers]]", *_comment(trig.notes), f"key = {value(trig.key)}",
                    f"name_zh = {value(trig.name_zh)}", f"name_en = {value(trig.name_en)}",
                    f"words_zh = {value(trig.words_zh)}", f"words_en = {value(trig.words_en)}"]  # fmt: skip
    out += ["", "# " + "=" * 88, "# Roles", "# " + "=" * 88]
    for role in draft.roles:
        out += ["", *_role(role)]
    for role in draft.roles:
        out += ["", "# " + "=" * 88, f"# {role.name_zh} / {role.name_en}", "# " + "=" * 88]
        for duty in (d for d in draft.duties if d.role == role.key):
            out += ["", *_duty(duty)]
        untimed = [u.clause for u in draft.untimed if u.role == role.key]
        if untimed:
            out += [
                "",
                "# REVIEW: stated without a time (add a [[duties]] entry if it should be tracked):",
            ]
            out += [f"#   - {c}" for c in untimed]
    return "\n".join(out) + "\n"


def _top_role(roles: list[DraftRole]) -> str:
    """The role most others report to, directly or not: escalations go there."""
    by_key = {r.key: r for r in roles}
    count: dict[str, int] = {}
    for r in roles:
        cur, seen = by_key.get(r.reports_to), set()
        while cur is not None and cur.key not in seen:
            seen.add(cur.key)
            count[cur.key] = count.get(cur.key, 0) + 1
            cur = by_key.get(cur.reports_to)
    if not count:
        return ""
    best = max(count.values())
    return next(k for k in by_key if count.get(k) == best) if best >= 2 else ""


def _role(role: DraftRole) -> list[str]:
    out = ["[[roles]]", *_comment(role.notes)]
    out += [f"key = {value(role.key)}", f"name_zh = {value(role.name_zh)}",
            f"name_en = {value(role.name_en)}", f"reports_to = {value(role.reports_to)}"]  # fmt: skip
    if role.reports_to_label:
        out.append(f"reports_to_label = {value(role.reports_to_label)}")
    return out


def _duty(d: DraftDuty) -> list[str]:
    out = ["[[duties]]", *_comment(d.notes)]
    out += [
        f"key = {value(d.key)}",
        f"role = {value(d.role)}",
        f"name_zh = {value(d.name_zh)}",
        f"name_en = {value(d.name_en)}",
        f"clause = {value(d.clause)}",
    ]
    if d.inferred:
        out.append("inferred = true")
    if d.contents is not None and d.approver_role is not None:
        out.append(f"approver_role = {value(d.approver_role)}")
    out += ["", "[duties.due]"]
    for k in sorted(d.due, key=lambda k: _DUE_ORDER.index(k) if k in _DUE_ORDER else 99):
        out.append(f"{k} = {value(d.due[k])}")
    if d.contents is None:
        return out
    for f in d.contents.fields:
        out += ["", "[[duties.report.fields]]", f"key = {value(f.key)}", f"type = {value(f.type)}",
                f"label_zh = {value(f.label_zh)}", f"label_en = {value(f.label_en)}"]  # fmt: skip
        if f.unit and f.type in ("integer", "number", "money", "percent"):
            out.append(f"unit = {value(f.unit)}")
        if f.hint:
            out.append(f"hint_zh = {value(f.hint)}")
    for k in d.contents.kpis:
        out += ["", "[[duties.report.kpis]]", f"key = {value(k.key)}",
                f"label_zh = {value(k.label_zh)}", f"label_en = {value(k.label_en)}",
                f"numerator = {value(k.numerator)}"]  # fmt: skip
        if k.denominator:
            out.append(f"denominator = {value(k.denominator)}")
        out += [f"op = {value(k.op)}", f"threshold = {value(k.threshold)}"]
        if k.format:
            out.append(f"format = {value(k.format)}")
    return out
