"""The policy model: frozen dataclasses that the rest of the code reads.

Conventions the rest of the code relies on:

* ``percent`` field values and KPI values are *fractions* (0.85 means 85 %); ``min``,
  ``max`` and KPI thresholds of percentages are fractions too (``threshold = 0.8``). A
  form shows and accepts percent points and divides by 100.
* ``money`` values are in yuan (CNY) unless a field sets another ``unit``.
* ``Duty.approver_role``: ``None`` = not set in the file (the default applies: the duty's
  role's ``reports_to``), ``""`` = approved outside the department (management).
  ``Policy.approver_role_for(duty)`` resolves it; it returns ``None`` for "outside the
  department" and for duties without a report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.policy.wording import describe_due, hhmm, is_en, num

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

FIELD_TYPES = (
    "integer",
    "number",
    "money",
    "percent",
    "text",
    "longtext",
    "date",
    "choice",
    "person",
)
NUMERIC_TYPES = frozenset({"integer", "number", "money", "percent"})
TEXT_TYPES = frozenset({"text", "longtext"})
KPI_OPS = (">=", "<=", ">", "<")
KPI_FORMATS = ("percent", "number")
DUE_KINDS = ("weekly", "monthly", "quarterly", "yearly", "weekdays", "activity", "sla")
PERIODIC_KINDS = frozenset({"weekly", "monthly", "quarterly", "yearly", "weekdays"})
ADJUSTS = ("previous_workday", "next_workday", "none", "skip")
COVERS = ("previous", "current", "next")
ANCHORS = ("start", "end")
UNITS = ("calendar", "working")
REMINDER_WORDS = ("assignee", "manager-of-assignee")

MAX_KEY_LENGTH = 40


# ---------------------------------------------------------------------------------------
# Data classes
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    key: str
    name_zh: str
    name_en: str
    reports_to: str | None = None  # None: reports outside the department
    reports_to_label: str = ""  # e.g. "管理层 / Company management"

    def name(self, lang: str = "zh") -> str:
        return self.name_en if is_en(lang) else self.name_zh

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "reports_to": self.reports_to or "",
            "reports_to_label": self.reports_to_label,
        }


@dataclass(frozen=True)
class Choice:
    key: str
    label_zh: str
    label_en: str

    def label(self, lang: str = "zh") -> str:
        return self.label_en if is_en(lang) else self.label_zh


@dataclass(frozen=True)
class ReportField:
    key: str
    type: str  # one of FIELD_TYPES
    label_zh: str
    label_en: str
    required: bool = False
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None  # text/longtext only
    choices: tuple[Choice, ...] = ()  # choice only
    hint_zh: str = ""  # placeholder / example text
    hint_en: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    def label(self, lang: str = "zh") -> str:
        return self.label_en if is_en(lang) else self.label_zh

    def hint(self, lang: str = "zh") -> str:
        return self.hint_en if is_en(lang) else self.hint_zh

    def choice(self, key: str) -> Choice | None:
        for c in self.choices:
            if c.key == key:
                return c
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "type": self.type,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "required": self.required,
        }
        if self.unit is not None:
            out["unit"] = self.unit
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.max_length is not None:
            out["max_length"] = self.max_length
        if self.choices:
            out["choices"] = [
                {"key": c.key, "label_zh": c.label_zh, "label_en": c.label_en} for c in self.choices
            ]
        if self.hint_zh:
            out["hint_zh"] = self.hint_zh
        if self.hint_en:
            out["hint_en"] = self.hint_en
        return out


@dataclass(frozen=True)
class KpiResult:
    kpi: Kpi
    value: float | None  # None: inputs missing or denominator zero
    ok: bool | None  # None when value is None

    def format_value(self) -> str:
        return "—" if self.value is None else self.kpi.format_value(self.value)


@dataclass(frozen=True)
class Kpi:
    """A threshold check on report values: ``numerator [/ denominator] op threshold``."""

    key: str
    label_zh: str
    label_en: str
    numerator: str  # field key
    denominator: str | None
    op: str  # one of KPI_OPS
    threshold: float  # same units as the value; ratios and percents are fractions
    format: str = "number"  # "percent" or "number": how value and threshold are shown

    def label(self, lang: str = "zh") -> str:
        return self.label_en if is_en(lang) else self.label_zh

    def value(self, values: Mapping[str, Any]) -> float | None:
        """The KPI value from report values (field key -> number), or None if missing."""
        num = _as_number(values.get(self.numerator))
        if num is None:
            return None
        if self.denominator is None:
            return num
        den = _as_number(values.get(self.denominator))
        if den is None or den == 0:
            return None
        return num / den

    def passes(self, value: float) -> bool:
        if self.op == ">=":
            return value >= self.threshold
        if self.op == "<=":
            return value <= self.threshold
        if self.op == ">":
            return value > self.threshold
        return value < self.threshold

    def evaluate(self, values: Mapping[str, Any]) -> KpiResult:
        v = self.value(values)
        return KpiResult(self, v, None if v is None else self.passes(v))

    def format_value(self, value: float) -> str:
        if self.format == "percent":
            pct = round(value * 100, 1)
            return f"{num(pct)}%"
        return num(round(value, 2))

    def describe(self, lang: str = "zh") -> str:
        """E.g. "到场率 ≥ 80%" / "Attendance ≥ 80%"."""
        op = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}[self.op]
        return f"{self.label(lang)} {op} {self.format_value(self.threshold)}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "numerator": self.numerator,
        }
        if self.denominator is not None:
            out["denominator"] = self.denominator
        out.update({"op": self.op, "threshold": self.threshold, "format": self.format})
        return out


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, str):
        try:
            f = float(v.strip().replace(",", ""))
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


@dataclass(frozen=True)
class ReportTemplate:
    fields: tuple[ReportField, ...]
    kpis: tuple[Kpi, ...] = ()

    def field(self, key: str) -> ReportField:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def evaluate_kpis(self, values: Mapping[str, Any]) -> list[KpiResult]:
        return [k.evaluate(values) for k in self.kpis]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fields": [f.to_json() for f in self.fields]}
        if self.kpis:
            out["kpis"] = [k.to_json() for k in self.kpis]
        return out


@dataclass(frozen=True)
class DueRule:
    """When a duty is due. See the shipped policy file for the TOML syntax.

    Which options are set depends on ``kind``:

    * weekly: ``weekday`` (0 = Monday)
    * weekdays: ``days`` (sorted weekday numbers)
    * monthly: exactly one of ``day`` / ``before_day`` / ``workday`` (the Nth working
      day of the month) / ``before_start``; ``covers``
    * quarterly: ``month`` (1..3, month in the quarter) with ``day`` / ``before_day`` /
      ``workday``, or ``before_start``; ``covers``
    * yearly: ``month`` (1..12) with ``day`` / ``before_day`` / ``workday``, or
      ``before_start``; ``covers``
    * activity: ``anchor`` ("start"/"end"), ``offset``, ``unit`` ("calendar"/"working")
    * sla: ``hours``, optional ``trigger`` (a ``Trigger`` key), ``unit`` ("calendar": clock
      hours, nights and holidays included; "working": only hours within the policy's working
      hours on working days)

    ``time`` is the local time of day (ignored by sla). ``adjust`` is what happens when a
    calendar-computed due date is not a working day.
    """

    kind: str
    time: time
    adjust: str = "none"
    weekday: int | None = None
    days: tuple[int, ...] = ()
    day: int | None = None
    before_day: int | None = None
    workday: int | None = None
    before_start: bool = False
    month: int | None = None
    covers: str = "current"
    anchor: str | None = None
    offset: int | None = None
    unit: str | None = None
    hours: float | None = None
    trigger: str | None = None

    @property
    def is_periodic(self) -> bool:
        return self.kind in PERIODIC_KINDS

    def describe(self, lang: str = "zh") -> str:
        """E.g. "每周五 18:00" / "every Friday 18:00"."""
        return describe_due(self, lang)

    def to_json(self) -> dict[str, Any]:
        """The rule as a ``[duties.due]`` table (defaults resolved), JSON-serialisable."""
        out: dict[str, Any] = {"kind": self.kind}
        k = self.kind
        if k == "weekly":
            out["weekday"] = WEEKDAYS[self.weekday or 0]
        elif k == "weekdays":
            out["days"] = [WEEKDAYS[d] for d in self.days]
        elif k in ("monthly", "quarterly", "yearly"):
            if self.before_start:
                out["before_start"] = True
            else:
                if self.month is not None:
                    out["month"] = self.month
                if self.day is not None:
                    out["day"] = self.day
                if self.before_day is not None:
                    out["before_day"] = self.before_day
                if self.workday is not None:
                    out["workday"] = self.workday
                out["covers"] = self.covers
        elif k == "activity":
            out.update({"anchor": self.anchor, "offset": self.offset, "unit": self.unit})
        elif k == "sla":
            h = self.hours or 0
            out["hours"] = int(h) if float(h).is_integer() else h
            if self.trigger:
                out["trigger"] = self.trigger
            if self.unit == "working":
                out["unit"] = "working"
        if k != "sla":
            out["time"] = hhmm(self.time)
            if not (k == "activity" and self.unit == "working") and self.workday is None:
                out["adjust"] = self.adjust
        return out


@dataclass(frozen=True)
class Duty:
    key: str
    role: str
    name_zh: str
    name_en: str
    clause: str
    inferred: bool
    due: DueRule
    report: ReportTemplate | None = None
    approver_role: str | None = None  # None: default (role's reports_to); "": outside

    def name(self, lang: str = "zh") -> str:
        return self.name_en if is_en(lang) else self.name_zh

    @property
    def has_report(self) -> bool:
        return self.report is not None

    @property
    def action(self) -> str:
        """What finishing it takes: "report" (submit the form) or "done" (mark done); the
        task cards' button names (``cards.task_actions``)."""
        return "report" if self.report is not None else "done"

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot, in the shape of a ``[[duties]]`` table."""
        out: dict[str, Any] = {
            "key": self.key,
            "role": self.role,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "clause": self.clause,
            "inferred": self.inferred,
        }
        if self.approver_role is not None:
            out["approver_role"] = self.approver_role
        out["due"] = self.due.to_json()
        if self.report is not None:
            out["report"] = self.report.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], default_due_time: time = time(18, 0)) -> Duty:
        """Rebuild a duty from ``to_json()`` output (the role is not checked)."""
        from bot.domain.policy.loader import duty_from_json  # the loader builds on this module

        return duty_from_json(data, default_due_time)


@dataclass(frozen=True)
class Trigger:
    """Something that happens outside the bot and starts the SLA duties that name it (a
    user question, a complaint). A team member logs it in chat by writing one of its words
    and a colon before the text (``咨询：…``, ``question: …``) or by forwarding the message."""

    key: str
    name_zh: str
    name_en: str
    words_zh: tuple[str, ...] = ()
    words_en: tuple[str, ...] = ()

    def name(self, lang: str = "zh") -> str:
        return self.name_en if is_en(lang) else self.name_zh

    @property
    def words(self) -> tuple[str, ...]:
        return self.words_zh + self.words_en

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "words_zh": list(self.words_zh),
            "words_en": list(self.words_en),
        }


@dataclass(frozen=True)
class ReminderStep:
    key: str
    offset: int  # working days relative to the due date (-1 = the working day before)
    who: tuple[str, ...]  # "assignee", "manager-of-assignee" or role keys


@dataclass(frozen=True)
class Policy:
    name: str
    name_en: str
    timezone: str
    default_due_time: time
    roles: dict[str, Role]
    duties: dict[str, Duty]  # file order
    reminders: tuple[ReminderStep, ...]
    working_hours: tuple[time, time]  # (start, end), local time
    rejection_redo_workdays: int
    approval_window_workdays: int = 2  # a pending approval older than this is chased
    source: str = "<policy>"
    triggers: dict[str, Trigger] = field(default_factory=dict)  # file order

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def role(self, key: str) -> Role:
        try:
            return self.roles[key]
        except KeyError:
            raise KeyError(f"unknown role {key!r}") from None

    def duty(self, key: str) -> Duty:
        try:
            return self.duties[key]
        except KeyError:
            raise KeyError(f"unknown duty {key!r}") from None

    def duties_for_role(self, role_key: str) -> list[Duty]:
        return [d for d in self.duties.values() if d.role == role_key]

    def approver_role_for(self, duty: Duty) -> str | None:
        """The role that approves the duty's report; None if no report or outside."""
        if duty.report is None:
            return None
        if duty.approver_role is not None:
            return duty.approver_role or None
        role = self.roles.get(duty.role)
        return role.reports_to if role else None

    def approver_is_external(self, duty: Duty) -> bool:
        """True if the duty has a report that is approved outside the department."""
        return duty.report is not None and self.approver_role_for(duty) is None

    def approver_label(self, duty: Duty, lang: str = "zh") -> str:
        """Who approves, for display: a role name, the outside label, or ""."""
        if duty.report is None:
            return ""
        key = self.approver_role_for(duty)
        if key is not None:
            return self.roles[key].name(lang)
        role = self.roles.get(duty.role)
        label = role.reports_to_label if role and role.reports_to is None else ""
        return label or ("outside the department" if is_en(lang) else "部门外")

    def periodic_duties(self) -> list[Duty]:
        return [d for d in self.duties.values() if d.due.kind in PERIODIC_KINDS]

    def activity_duties(self) -> list[Duty]:
        return [d for d in self.duties.values() if d.due.kind == "activity"]

    def sla_duties(self) -> list[Duty]:
        return [d for d in self.duties.values() if d.due.kind == "sla"]

    def duties_for_trigger(self, key: str) -> list[Duty]:
        """The SLA duties a trigger starts, in file order."""
        return [d for d in self.sla_duties() if d.due.trigger == key]
