"""Policy file -> model: read the TOML, validate it (``schema`` for each table, ``checks``
for the relations between tables), build the frozen model.

Every problem is collected before giving up, as ``PolicyError.errors``: one line per
problem, ``"path (owner): what is wrong"``, e.g. ``duties[3].due.weekday (duty
staff.weekly): unknown weekday 'fry' (expected one of mon, tue, ...)``. List indexes are
0-based (``duties[0]`` is the first ``[[duties]]`` table of the file).
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Mapping
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.domain.policy.checks import (
    Issue,
    duplicate_duty_issues,
    duty_issues,
    role_issues,
    step_issues,
    trigger_issues,
)
from bot.domain.policy.model import (
    WEEKDAYS,
    Choice,
    DueRule,
    Duty,
    Kpi,
    Policy,
    ReminderStep,
    ReportField,
    ReportTemplate,
    Role,
    Trigger,
)
from bot.domain.policy.schema import (
    DUE_SPECS,
    ActivityDue,
    DutySpec,
    FileSpec,
    PolicyHeadSpec,
    ReportSpec,
    RoleSpec,
    SlaDue,
    Spec,
    TriggerSpec,
    WeekdaysDue,
    WeeklyDue,
)

_SHIPPED = "policies/marketing.toml"
S = TypeVar("S", bound=Spec)
DEFAULT_WORKING_HOURS = (time(9, 30), time(18, 30))


class PolicyError(Exception):
    """An invalid policy. ``errors``: every problem as a line; ``issues``: the same,
    structured (path, message, owner)."""

    def __init__(self, errors: list[str] | list[Issue], source: str = "<policy>"):
        self.issues = [e if isinstance(e, Issue) else Issue("", str(e)) for e in errors]
        self.errors = [str(e) for e in errors]
        self.source = source
        n = len(self.errors)
        head = f"{n} error{'s' if n != 1 else ''} in {source}"
        super().__init__(head + ":\n  " + "\n  ".join(self.errors))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file; ``None`` loads the shipped marketing policy."""
    if path is None:
        source = "marketing.toml"
        try:
            text = resources.files("bot").joinpath(_SHIPPED).read_text(encoding="utf-8")
        except OSError as e:
            raise PolicyError([f"{source}: cannot read the shipped policy: {e}"], source) from e
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise PolicyError([f"{source}: cannot read file: {e.strerror or e}"], source) from e
        except UnicodeDecodeError as e:
            raise PolicyError([f"{source}: not UTF-8 text: {e}"], source) from e
    return loads_policy(text, source)


def loads_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate a policy file's text (e.g. a department's policy kept in the database)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError([f"{source}: {e}"], source) from e
    return parse_policy(data, source)


def parse_policy(data: dict, source: str = "<policy>") -> Policy:
    """Validate parsed TOML data; raise PolicyError listing every problem."""
    if not isinstance(data, dict):
        raise PolicyError(["<root>: expected a table"], source)
    issues: list[Issue] = []
    _validate(FileSpec, data, "", issues)
    raw_head = data.get("policy") if isinstance(data.get("policy"), dict) else None
    raw_roles = _tables(data.get("roles"))
    raw_duties = _tables(data.get("duties"))
    raw_triggers = _tables(data.get("triggers"))
    # role references are checked against every key the file spells, valid or not, so a
    # typo in one role is reported once, not again at each duty of that role
    ctx = {
        "role_keys": {r["key"].strip() for _, r in raw_roles if isinstance(r.get("key"), str)},
        "trigger_keys": {
            t["key"].strip() for _, t in raw_triggers if isinstance(t.get("key"), str)
        },
    }

    triggers: list[tuple[int, TriggerSpec]] = []
    for i, raw in raw_triggers:
        spec = _validate(TriggerSpec, raw, f"triggers[{i}]", issues, ctx, _owner("trigger", raw))
        if spec is not None:
            triggers.append((i, spec))
    issues += trigger_issues(triggers)

    roles: list[tuple[int, RoleSpec]] = []
    for i, raw in raw_roles:
        spec = _validate(RoleSpec, raw, f"roles[{i}]", issues, ctx, _owner("role", raw))
        if spec is not None:
            roles.append((i, spec))
    issues += role_issues(roles)

    head = None
    if raw_head is not None:
        head = _validate(PolicyHeadSpec, raw_head, "policy", issues, ctx)
        issues += step_issues(_raw_steps(raw_head), "policy.reminders.steps")

    duties: list[tuple[int, DutySpec]] = []
    for i, raw in raw_duties:
        spec = _validate(DutySpec, raw, f"duties[{i}]", issues, ctx, _owner("duty", raw))
        if spec is not None:
            issues += duty_issues(spec, f"duties[{i}]")
            duties.append((i, spec))
    issues += duplicate_duty_issues(duties)

    if issues or head is None:
        raise PolicyError(issues, source)
    return _build(
        head, [s for _, s in roles], [s for _, s in duties], source, [t for _, t in triggers]
    )


def duty_from_json(data: Mapping[str, Any], default_due_time: time = time(18, 0)) -> Duty:
    """Rebuild a duty from ``Duty.to_json()`` (a task's snapshot; the role is not checked)."""
    issues: list[Issue] = []
    spec = _validate(DutySpec, dict(data), "duty", issues)
    if spec is not None:
        issues += duty_issues(spec, "duty")
    if issues or spec is None:
        raise PolicyError(issues, "duty snapshot")
    return _duty(spec, default_due_time)


# -- validation -> issues ------------------------------------------------------------------


def _tables(value: Any) -> list[tuple[int, dict]]:
    return (
        [(i, t) for i, t in enumerate(value) if isinstance(t, dict)]
        if isinstance(value, list)
        else []
    )


def _owner(what: str, raw: dict) -> str:
    key = raw.get("key")
    return f"{what} {key.strip()}" if isinstance(key, str) and key.strip() else ""


def _raw_steps(head: dict) -> list[tuple[str | None, int]]:
    """(key, offset) of every readable step: the ladder's order is checked even when one
    step has another problem."""
    rem = head.get("reminders")
    steps = rem.get("steps") if isinstance(rem, dict) else None
    out = []
    for _, s in _tables(steps):
        offset = s.get("offset")
        if isinstance(offset, int) and not isinstance(offset, bool):
            key = s.get("key")
            out.append((key if isinstance(key, str) else None, offset))
    return out


_MISSING = {
    ("policy",): "missing table",
    ("roles",): "missing (add at least one [[roles]] table)",
    ("duties",): "missing (add at least one [[duties]] table)",
}
_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "float_type": "a number",
}


def _validate(
    cls: type[S],
    raw: Any,
    prefix: str,
    issues: list[Issue],
    context: dict | None = None,
    owner: str = "",
) -> S | None:
    try:
        return cls.model_validate(raw, context=context)
    except ValidationError as exc:
        issues += [_issue(cls, err, prefix, owner) for err in exc.errors(include_url=False)]
        return None


def _issue(root: type[BaseModel], err: Any, prefix: str, owner: str) -> Issue:
    loc = list(err["loc"])
    kind = None
    if "due" in loc:  # a discriminated union puts the kind into the path: drop it
        at = loc.index("due") + 1
        if at < len(loc) and loc[at] in DUE_SPECS:
            kind = loc.pop(at)
    t, value = err["type"], err.get("input")
    if t in ("union_tag_invalid", "union_tag_not_found"):
        loc.append("kind")
        msg = (
            "missing"
            if t == "union_tag_not_found"
            else (f"unknown kind {err['ctx']['tag']!r} (expected one of {', '.join(DUE_SPECS)})")
        )
    elif t == "missing":
        msg = _MISSING.get(tuple(loc), "missing")
        if kind:
            msg += f" (required for kind {kind!r})"
    elif t == "extra_forbidden":
        parent = _spec_at(root, loc[:-1], kind)
        keys = [k for k in parent.model_fields if k != "kind"] if parent else []
        if kind:
            msg = f"not an option of kind {kind!r} (options: {', '.join(keys)})"
        else:
            msg = f"unknown key (expected one of {', '.join(keys)})"
    elif t in _TYPE_WORDS:
        msg = f"expected {_TYPE_WORDS[t]}, got {value!r}"
    elif t in ("dict_type", "model_type", "model_attributes_type"):
        msg = f"expected a table, got {type(value).__name__}"
    elif t == "list_type":
        table = (
            f" ([[{loc[-1]}]])"
            if loc and loc[-1] in ("roles", "duties", "steps", "triggers")
            else ""
        )
        msg = f"expected {'an array of tables' if table else 'a list'}{table}, got {type(value).__name__}"
    elif t == "too_short":
        msg = (
            "a report needs at least one field"
            if loc[-1:] == ["fields"]
            else "expected a non-empty list"
        )
    else:
        msg = err["msg"]
    return Issue(_path(prefix, loc), msg, owner)


def _path(prefix: str, loc: list) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out or "<root>"


def _spec_at(root: type[BaseModel], loc: list, kind: str | None) -> type[BaseModel] | None:
    """The model class of the table at ``loc`` (to name its allowed keys)."""
    cls: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or cls is None:
            continue
        if part == "due" and kind:
            cls = DUE_SPECS[kind]
            continue
        field = cls.model_fields.get(part)
        cls = _model_in(field.annotation) if field else None
    return cls


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


# -- specs -> model ------------------------------------------------------------------------


def _build(
    head: PolicyHeadSpec,
    roles: list[RoleSpec],
    duties: list[DutySpec],
    source: str,
    triggers: list[TriggerSpec] = (),  # type: ignore[assignment]
) -> Policy:
    reminders, hours = (), DEFAULT_WORKING_HOURS
    if head.reminders is not None:
        reminders = tuple(
            ReminderStep(s.key, s.offset, tuple(dict.fromkeys(s.who))) for s in head.reminders.steps
        )
        if head.reminders.working_hours is not None:
            hours = (head.reminders.working_hours.start, head.reminders.working_hours.end)
    return Policy(
        name=head.name,
        name_en=head.name_en,
        timezone=head.timezone,
        default_due_time=head.default_due_time,
        roles={
            r.key: Role(r.key, r.name_zh, r.name_en, r.reports_to or None, r.reports_to_label)
            for r in roles
        },
        duties={d.key: _duty(d, head.default_due_time) for d in duties},
        reminders=reminders,
        working_hours=hours,
        rejection_redo_workdays=head.rejection_redo_workdays,
        approval_window_workdays=head.approval_window_workdays,
        source=source,
        triggers={
            t.key: Trigger(t.key, t.name_zh, t.name_en, tuple(t.words_zh), tuple(t.words_en))
            for t in triggers
        },
    )


def _duty(spec: DutySpec, default_time: time) -> Duty:
    return Duty(
        key=spec.key,
        role=spec.role,
        name_zh=spec.name_zh,
        name_en=spec.name_en,
        clause=spec.clause,
        inferred=spec.inferred,
        due=_due(spec.due, default_time),
        report=_report(spec.report) if spec.report is not None else None,
        approver_role=spec.approver_role,
    )


def _due(spec: Any, default_time: time) -> DueRule:
    if isinstance(spec, SlaDue):
        return DueRule(
            kind="sla", time=default_time, hours=spec.hours, trigger=spec.trigger, unit=spec.unit
        )
    t = spec.time or default_time
    if isinstance(spec, WeeklyDue):
        return DueRule(
            kind="weekly",
            time=t,
            adjust=spec.adjust or "previous_workday",
            weekday=WEEKDAYS.index(spec.weekday),
        )
    if isinstance(spec, WeekdaysDue):
        days = tuple(sorted(WEEKDAYS.index(d) for d in spec.days))
        return DueRule(kind="weekdays", time=t, adjust=spec.adjust or "none", days=days)
    if isinstance(spec, ActivityDue):
        # a working-day offset always lands on a working day; a calendar-day one moves
        # away from the activity: earlier before it, later after it
        if spec.unit == "working" or spec.offset == 0:
            default = "none"
        else:
            default = "previous_workday" if spec.offset < 0 else "next_workday"
        return DueRule(
            kind="activity",
            time=t,
            adjust=spec.adjust or default,
            anchor=spec.anchor,
            offset=spec.offset,
            unit=spec.unit,
        )
    # monthly / quarterly / yearly
    # the Nth working day is one already: nothing to move
    adjust = "none" if spec.workday is not None else spec.adjust or "previous_workday"
    if spec.before_start:
        return DueRule(kind=spec.kind, time=t, adjust=adjust, before_start=True)
    return DueRule(
        kind=spec.kind,
        time=t,
        adjust=adjust,
        day=spec.day,
        before_day=spec.before_day,
        workday=spec.workday,
        month=getattr(spec, "month", None),
        covers=spec.covers or "current",
    )


def _report(spec: ReportSpec) -> ReportTemplate:
    fields = tuple(
        ReportField(
            key=f.key,
            type=f.type,
            label_zh=f.label_zh,
            label_en=f.label_en,
            required=f.required,
            unit=f.unit,
            min=f.min,
            max=f.max,
            max_length=f.max_length,
            choices=tuple(Choice(c.key, c.label_zh, c.label_en) for c in f.choices or ()),
            hint_zh=f.hint_zh,
            hint_en=f.hint_en,
        )
        for f in spec.fields
    )
    kpis = tuple(
        Kpi(
            k.key,
            k.label_zh,
            k.label_en,
            k.numerator,
            k.denominator,
            k.op,
            k.threshold,
            k.format or ("percent" if k.denominator else "number"),
        )
        for k in spec.kpis
    )
    return ReportTemplate(fields, kpis)
