"""The role-duty policy: TOML -> validated, frozen dataclasses.

``load_policy(path | None)`` reads a TOML file (``None``: the shipped
``bot/policies/marketing.toml``); ``parse_policy(dict)`` validates already-parsed data.
Both raise ``PolicyError`` whose ``errors`` lists *every* problem found, each as
``"field.path: what is wrong"``, e.g. ``duties[3].due.weekday: unknown weekday 'fry'
(expected one of mon, tue, wed, thu, fri, sat, sun)``. List indexes in paths are 0-based
(``duties[0]`` is the first ``[[duties]]`` table of the file).

The file format is documented in the shipped policy file itself. Conventions the rest of
the code relies on:

* ``percent`` field values and KPI values are *fractions* (0.85 means 85 %); ``min``,
  ``max`` and KPI thresholds of percentages are fractions too (``threshold = 0.8``). A
  form shows and accepts percent points and divides by 100.
* ``money`` values are in yuan (CNY) unless a field sets another ``unit``.
* ``Duty.approver_role``: ``None`` = not set in the file (the default applies: the duty's
  role's ``reports_to``), ``""`` = approved outside the department (management).
  ``Policy.approver_role_for(duty)`` resolves it; it returns ``None`` for "outside the
  department" and for duties without a report.

Pure Python: no I/O except reading the policy file.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ADJUSTS",
    "COVERS",
    "DUE_KINDS",
    "FIELD_TYPES",
    "KPI_OPS",
    "NUMERIC_TYPES",
    "PERIODIC_KINDS",
    "WEEKDAYS",
    "Choice",
    "DueRule",
    "Duty",
    "Kpi",
    "KpiResult",
    "Policy",
    "PolicyError",
    "ReminderStep",
    "ReportField",
    "ReportTemplate",
    "Role",
    "load_policy",
    "parse_policy",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ZH = ("一", "二", "三", "四", "五", "六", "日")
_WEEKDAY_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_EN_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_EN = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

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
_ROLE_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_DUTY_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_FIELD_KEY_RE = _ROLE_KEY_RE
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

_SHIPPED = "policies/marketing.toml"


def _is_en(lang: str | None) -> bool:
    return bool(lang) and str(lang).lower().startswith("en")


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _num(x: float) -> str:
    """1.0 -> '1', 0.5 -> '0.5'."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:g}"


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


class PolicyError(Exception):
    """An invalid policy. ``errors``: every problem, as ``"field.path: what is wrong"``."""

    def __init__(self, errors: list[str], source: str = "<policy>"):
        self.errors = list(errors)
        self.source = source
        n = len(self.errors)
        head = f"{n} error{'s' if n != 1 else ''} in {source}"
        super().__init__(head + ":\n  " + "\n  ".join(self.errors))


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
        return self.name_en if _is_en(lang) else self.name_zh

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
        return self.label_en if _is_en(lang) else self.label_zh


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
        return self.label_en if _is_en(lang) else self.label_zh

    def hint(self, lang: str = "zh") -> str:
        return self.hint_en if _is_en(lang) else self.hint_zh

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
        return self.label_en if _is_en(lang) else self.label_zh

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
            return f"{_num(pct)}%"
        return _num(round(value, 2))

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
    * monthly: exactly one of ``day`` / ``before_day`` / ``before_start``; ``covers``
    * quarterly: ``month`` (1..3, month in the quarter) with ``day`` / ``before_day``,
      or ``before_start``; ``covers``
    * yearly: ``month`` (1..12) with ``day`` / ``before_day``, or ``before_start``;
      ``covers``
    * activity: ``anchor`` ("start"/"end"), ``offset``, ``unit`` ("calendar"/"working")
    * sla: ``hours``, optional ``trigger``

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
        en = _is_en(lang)
        k = self.kind
        if k == "weekly":
            assert self.weekday is not None
            t = _hhmm(self.time)
            if en:
                return f"every {_WEEKDAY_EN[self.weekday]} {t}"
            return f"每周{_WEEKDAY_ZH[self.weekday]} {t}"
        if k == "weekdays":
            if en:
                return "every " + ", ".join(_WEEKDAY_EN_SHORT[d] for d in self.days)
            return "每周" + "、".join(_WEEKDAY_ZH[d] for d in self.days)
        if k in ("monthly", "quarterly", "yearly"):
            return self._describe_calendar(en)
        if k == "activity":
            return self._describe_activity(en)
        if k == "sla":
            h = _num(self.hours or 0)
            if en:
                return f"within {h} hour" + ("" if h == "1" else "s")
            return f"{h}小时内"
        return k

    def _describe_calendar(self, en: bool) -> str:
        k = self.kind
        unit_zh = {"monthly": "月", "quarterly": "季度", "yearly": "年"}[k]
        unit_en = {"monthly": "month", "quarterly": "quarter", "yearly": "year"}[k]
        if self.before_start:
            return f"before each {unit_en} starts" if en else f"每{unit_zh}开始前"
        n = self.before_day if self.before_day is not None else self.day
        assert n is not None
        before = self.before_day is not None
        if k == "monthly":
            if before:
                return f"before the {_ordinal(n)} of each month" if en else f"每月{n}日前"
            if n == -1:
                return "on the last day of each month" if en else "每月最后一天"
            if n < 0:
                return (
                    f"on the {_ordinal(-n)}-to-last day of each month"
                    if en
                    else f"每月倒数第{-n}天"
                )
            return f"on the {_ordinal(n)} of each month" if en else f"每月{n}日"
        if k == "quarterly":
            m = self.month or 1
            if not before and m == 3 and n == -1:
                return "on the last day of each quarter" if en else "每季度最后一天"
            if en:
                if before:
                    return f"before the {_ordinal(n)} of the {_ordinal(m)} month of each quarter"
                if n == -1:
                    return f"on the last day of the {_ordinal(m)} month of each quarter"
                if n < 0:
                    return f"on the {_ordinal(-n)}-to-last day of the {_ordinal(m)} month of each quarter"
                return f"on the {_ordinal(n)} of the {_ordinal(m)} month of each quarter"
            if before:
                return f"每季度第{m}个月{n}日前"
            if n == -1:
                return f"每季度第{m}个月最后一天"
            if n < 0:
                return f"每季度第{m}个月倒数第{-n}天"
            return f"每季度第{m}个月{n}日"
        # yearly
        m = self.month or 1
        if en:
            if before:
                return f"before {_MONTH_EN[m]} {n} each year"
            if n == -1:
                return f"on the last day of {_MONTH_EN[m]} each year"
            if n < 0:
                return f"on the {_ordinal(-n)}-to-last day of {_MONTH_EN[m]} each year"
            return f"every year on {_MONTH_EN[m]} {n}"
        if before:
            return f"每年{m}月{n}日前"
        if n == -1:
            return f"每年{m}月最后一天"
        if n < 0:
            return f"每年{m}月倒数第{-n}天"
        return f"每年{m}月{n}日"

    def _describe_activity(self, en: bool) -> str:
        off = self.offset or 0
        n = abs(off)
        working = self.unit == "working"
        start = self.anchor == "start"
        a_zh = "活动开始" if start else "活动结束"
        a_en = "the activity starts" if start else "the activity ends"
        if off == 0:
            if en:
                return f"on the day {a_en}"
            return f"{a_zh}当天"
        if en:
            days = ("working day" if working else "day") + ("" if n == 1 else "s")
            if off < 0:
                return f"{n} {days} before {a_en}"
            return f"within {n} {days} after {a_en}"
        days_zh = "个工作日" if working else "天"
        if off < 0:
            return f"{a_zh}前{n}{days_zh}"
        return f"{a_zh}后{n}{days_zh}内"

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
                out["covers"] = self.covers
        elif k == "activity":
            out.update({"anchor": self.anchor, "offset": self.offset, "unit": self.unit})
        elif k == "sla":
            h = self.hours or 0
            out["hours"] = int(h) if float(h).is_integer() else h
            if self.trigger:
                out["trigger"] = self.trigger
        if k != "sla":
            out["time"] = _hhmm(self.time)
            if not (k == "activity" and self.unit == "working"):
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
        return self.name_en if _is_en(lang) else self.name_zh

    @property
    def has_report(self) -> bool:
        return self.report is not None

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
        errs = _Errs()
        duty = _parse_duty(errs, dict(data), "duty", None, default_due_time)
        if errs.items or duty is None:
            raise PolicyError(errs.items, "duty snapshot")
        return duty


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
    source: str = "<policy>"

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
        return label or ("outside the department" if _is_en(lang) else "部门外")

    def periodic_duties(self) -> list[Duty]:
        return [d for d in self.duties.values() if d.due.kind in PERIODIC_KINDS]

    def activity_duties(self) -> list[Duty]:
        return [d for d in self.duties.values() if d.due.kind == "activity"]

    def sla_duties(self) -> list[Duty]:
        return [d for d in self.duties.values() if d.due.kind == "sla"]


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError([f"{source}: {e}"], source) from e
    return parse_policy(data, source)


def parse_policy(data: dict, source: str = "<policy>") -> Policy:
    """Validate parsed TOML data; raise PolicyError listing every problem."""
    errs = _Errs()
    if not isinstance(data, dict):
        raise PolicyError(["<root>: expected a table"], source)
    errs.unknown_keys(data, "", ("policy", "roles", "duties"))

    # [policy]
    head = errs.table(data, "policy", "policy", required=True) or {}
    errs.unknown_keys(
        head,
        "policy",
        (
            "name",
            "name_en",
            "timezone",
            "default_due_time",
            "rejection_redo_workdays",
            "reminders",
        ),
    )
    name = errs.string(head, "name", "policy") or ""
    name_en = errs.string(head, "name_en", "policy") or ""
    timezone = errs.string(head, "timezone", "policy", required=False) or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errs.add("policy.timezone", f"unknown time zone {timezone!r}")
    default_due_time = errs.hhmm(head, "default_due_time", "policy", required=False)
    if default_due_time is None:
        default_due_time = time(18, 0)
    redo = errs.integer(head, "rejection_redo_workdays", "policy", required=False, lo=0, hi=60)
    if redo is None:
        redo = 2

    # [[roles]]
    roles = _parse_roles(errs, data)
    role_keys = set(roles)

    # [[duties]]
    duties: dict[str, Duty] = {}
    first_index: dict[str, int] = {}
    raw_duties = errs.array_of_tables(data, "duties", "duties")
    for i, raw in enumerate(raw_duties):
        path = f"duties[{i}]"
        if not isinstance(raw, dict):
            errs.add(path, "expected a table")
            continue
        duty = _parse_duty(errs, raw, path, role_keys, default_due_time)
        if duty is None:
            continue
        if duty.key in duties:
            errs.add(
                f"{path}.key",
                f"duplicate duty key {duty.key!r} (also duties[{first_index[duty.key]}])",
            )
            continue
        if duty.approver_role and duty.approver_role == duty.role:
            errs.add(f"{path}.approver_role", "a role cannot approve its own duty")
        duties[duty.key] = duty
        first_index[duty.key] = i

    # [policy.reminders]
    reminders, working_hours = _parse_reminders(errs, head, role_keys)

    if errs.items:
        raise PolicyError(errs.items, source)
    return Policy(
        name=name,
        name_en=name_en,
        timezone=timezone,
        default_due_time=default_due_time,
        roles=roles,
        duties=duties,
        reminders=reminders,
        working_hours=working_hours,
        rejection_redo_workdays=redo,
        source=source,
    )


def _parse_roles(errs: _Errs, data: dict) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    index_of: dict[str, int] = {}
    raw_roles = errs.array_of_tables(data, "roles", "roles")
    pending: list[tuple[int, dict]] = []
    for i, raw in enumerate(raw_roles):
        path = f"roles[{i}]"
        if not isinstance(raw, dict):
            errs.add(path, "expected a table")
            continue
        errs.unknown_keys(
            raw, path, ("key", "name_zh", "name_en", "reports_to", "reports_to_label")
        )
        key = errs.key(raw, "key", path, _ROLE_KEY_RE, "a role key (lower-case letters, digits, _)")
        if key is None:
            continue
        if key in REMINDER_WORDS:
            errs.add(f"{path}.key", f"{key!r} is reserved")
            continue
        if key in roles:
            errs.add(f"{path}.key", f"duplicate role key {key!r} (also roles[{index_of[key]}])")
            continue
        role = Role(
            key=key,
            name_zh=errs.string(raw, "name_zh", path) or key,
            name_en=errs.string(raw, "name_en", path) or key,
            reports_to=None,
            reports_to_label=errs.string(
                raw, "reports_to_label", path, required=False, empty_ok=True
            )
            or "",
        )
        roles[key] = role
        index_of[key] = i
        pending.append((i, raw))

    # reports_to, once every key is known
    parents: dict[str, str | None] = {}
    for i, raw in pending:
        path = f"roles[{i}]"
        key = raw["key"]
        parent = errs.string(raw, "reports_to", path, required=False, empty_ok=True) or None
        if parent is not None and parent not in roles:
            errs.add(f"{path}.reports_to", f"unknown role {parent!r}{_expected(roles)}")
            parent = None
        parents[key] = parent
        if parent is not None:
            old = roles[key]
            roles[key] = Role(old.key, old.name_zh, old.name_en, parent, old.reports_to_label)

    # cycles
    reported: set[str] = set()
    for key in roles:
        chain = [key]
        cur = parents.get(key)
        while cur is not None:
            if cur in chain:
                cycle = chain[chain.index(cur) :] + [cur]
                members = frozenset(cycle)
                if not members & reported:
                    errs.add(
                        f"roles[{index_of[cycle[0]]}].reports_to",
                        "cycle in reports_to: " + " -> ".join(cycle),
                    )
                    reported |= members
                break
            chain.append(cur)
            cur = parents.get(cur)
    return roles


def _parse_reminders(
    errs: _Errs, head: dict, role_keys: set[str]
) -> tuple[tuple[ReminderStep, ...], tuple[time, time]]:
    default_hours = (time(9, 30), time(18, 30))
    base = "policy.reminders"
    rem = errs.table(head, "reminders", base, required=False)
    if rem is None:
        return (), default_hours
    errs.unknown_keys(rem, base, ("working_hours", "steps"))
    hours = default_hours
    wh = errs.table(rem, "working_hours", f"{base}.working_hours", required=False)
    if wh is not None:
        p = f"{base}.working_hours"
        errs.unknown_keys(wh, p, ("start", "end"))
        start = errs.hhmm(wh, "start", p)
        end = errs.hhmm(wh, "end", p)
        if start is not None and end is not None:
            if end <= start:
                errs.add(f"{p}.end", f"must be after start ({_hhmm(start)})")
            else:
                hours = (start, end)
    steps: list[ReminderStep] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(errs.array_of_tables(rem, "steps", f"{base}.steps", required=False)):
        path = f"{base}.steps[{i}]"
        if not isinstance(raw, dict):
            errs.add(path, "expected a table")
            continue
        errs.unknown_keys(raw, path, ("key", "offset", "who"))
        key = errs.key(raw, "key", path, _FIELD_KEY_RE, "a key (lower-case letters, digits, _)")
        offset = errs.integer(raw, "offset", path, lo=-30, hi=60)
        who_raw = raw.get("who")
        who: list[str] = []
        if who_raw is None:
            errs.add(f"{path}.who", "missing")
        elif not isinstance(who_raw, list) or not who_raw:
            errs.add(f"{path}.who", "expected a non-empty list")
        else:
            for j, w in enumerate(who_raw):
                if not isinstance(w, str) or (w not in REMINDER_WORDS and w not in role_keys):
                    allowed = ", ".join(list(REMINDER_WORDS) + sorted(role_keys))
                    errs.add(
                        f"{path}.who[{j}]", f"unknown recipient {w!r} (expected one of {allowed})"
                    )
                elif w not in who:
                    who.append(w)
        if key is not None and key in seen:
            errs.add(f"{path}.key", f"duplicate step key {key!r} (also {base}.steps[{seen[key]}])")
            continue
        if key is None or offset is None or not who:
            continue
        seen[key] = i
        steps.append(ReminderStep(key, offset, tuple(who)))
    offsets = [s.offset for s in steps]
    if offsets != sorted(offsets):
        errs.add(f"{base}.steps", "steps must be in increasing offset order")
    return tuple(steps), hours


_DUTY_KEYS = (
    "key",
    "role",
    "name_zh",
    "name_en",
    "clause",
    "inferred",
    "approver_role",
    "due",
    "report",
)


def _parse_duty(
    errs: _Errs,
    raw: dict,
    path: str,
    role_keys: set[str] | None,
    default_due_time: time,
) -> Duty | None:
    errs.unknown_keys(raw, path, _DUTY_KEYS)
    n_before = len(errs.items)
    key = errs.key(raw, "key", path, _DUTY_KEY_RE, "a dotted key such as 'manager.weekly_progress'")
    role = errs.string(raw, "role", path)
    if role is not None and role_keys is not None and role not in role_keys:
        errs.add(f"{path}.role", f"unknown role {role!r}{_expected(role_keys)}")
    name_zh = errs.string(raw, "name_zh", path)
    name_en = errs.string(raw, "name_en", path)
    clause = errs.string(raw, "clause", path)
    inferred = errs.boolean(raw, "inferred", path, default=False)
    approver: str | None = None
    if "approver_role" in raw:
        approver = errs.string(raw, "approver_role", path, empty_ok=True)
        if approver and role_keys is not None and approver not in role_keys:
            errs.add(f"{path}.approver_role", f"unknown role {approver!r}{_expected(role_keys)}")
    due_raw = errs.table(raw, "due", f"{path}.due", required=True)
    due = (
        _parse_due(errs, due_raw, f"{path}.due", default_due_time) if due_raw is not None else None
    )
    report: ReportTemplate | None = None
    if "report" in raw:
        rep_raw = errs.table(raw, "report", f"{path}.report", required=True)
        if rep_raw is not None:
            report = _parse_report(errs, rep_raw, f"{path}.report")
    if approver is not None and "report" not in raw:
        errs.add(f"{path}.approver_role", "set, but the duty has no [duties.report]")
    if len(errs.items) > n_before or due is None:
        return None
    assert key and role and name_zh and name_en and clause is not None
    return Duty(
        key=key,
        role=role,
        name_zh=name_zh,
        name_en=name_en,
        clause=clause,
        inferred=bool(inferred),
        due=due,
        report=report,
        approver_role=approver,
    )


_DUE_OPTIONS: dict[str, tuple[str, ...]] = {
    "weekly": ("weekday", "time", "adjust"),
    "weekdays": ("days", "time", "adjust"),
    "monthly": ("day", "before_day", "before_start", "covers", "time", "adjust"),
    "quarterly": ("month", "day", "before_day", "before_start", "covers", "time", "adjust"),
    "yearly": ("month", "day", "before_day", "before_start", "covers", "time", "adjust"),
    "activity": ("anchor", "offset", "unit", "time", "adjust"),
    "sla": ("hours", "trigger"),
}


def _parse_due(errs: _Errs, raw: dict, path: str, default_time: time) -> DueRule | None:
    n_before = len(errs.items)
    kind = errs.string(raw, "kind", path)
    if kind is None:
        return None
    if kind not in DUE_KINDS:
        errs.add(f"{path}.kind", f"unknown kind {kind!r} (expected one of {', '.join(DUE_KINDS)})")
        return None
    allowed = _DUE_OPTIONS[kind]
    for k in raw:
        if k != "kind" and k not in allowed:
            errs.add(
                f"{path}.{k}", f"not an option of kind {kind!r} (options: {', '.join(allowed)})"
            )

    t = errs.hhmm(raw, "time", path, required=False) if "time" in allowed else None
    t = t or default_time
    opts: dict[str, Any] = {}

    if kind == "weekly":
        wd = raw.get("weekday")
        if wd is None:
            errs.add(f"{path}.weekday", "missing (required for kind 'weekly')")
        else:
            opts["weekday"] = _weekday(errs, wd, f"{path}.weekday")
    elif kind == "weekdays":
        days = raw.get("days")
        if days is None:
            errs.add(f"{path}.days", "missing (required for kind 'weekdays')")
        elif not isinstance(days, list) or not days:
            errs.add(f"{path}.days", 'expected a non-empty list of weekdays, e.g. ["tue", "thu"]')
        else:
            nums: list[int] = []
            for j, d in enumerate(days):
                n = _weekday(errs, d, f"{path}.days[{j}]")
                if n is None:
                    continue
                if n in nums:
                    errs.add(f"{path}.days[{j}]", f"duplicate weekday {d!r}")
                    continue
                nums.append(n)
            opts["days"] = tuple(sorted(nums))
    elif kind in ("monthly", "quarterly", "yearly"):
        _parse_calendar_due(errs, raw, path, kind, opts)
    elif kind == "activity":
        anchor = errs.string(raw, "anchor", path)
        if anchor is not None and anchor not in ANCHORS:
            errs.add(f"{path}.anchor", f"unknown anchor {anchor!r} (expected start or end)")
        opts["anchor"] = anchor
        opts["offset"] = errs.integer(raw, "offset", path, lo=-366, hi=366)
        unit = errs.string(raw, "unit", path, required=False) or "calendar"
        if unit not in UNITS:
            errs.add(f"{path}.unit", f"unknown unit {unit!r} (expected calendar or working)")
        opts["unit"] = unit
        if unit == "working" and "adjust" in raw:
            errs.add(
                f"{path}.adjust", "has no effect with unit = 'working' (the date is a working day)"
            )
    elif kind == "sla":
        h = raw.get("hours")
        if h is None:
            errs.add(f"{path}.hours", "missing (required for kind 'sla')")
        elif isinstance(h, bool) or not isinstance(h, int | float) or not (0 < h <= 24 * 366):
            errs.add(f"{path}.hours", f"expected a positive number of hours, got {h!r}")
        else:
            opts["hours"] = float(h)
        if "trigger" in raw:
            opts["trigger"] = errs.key(
                raw, "trigger", path, _FIELD_KEY_RE, "an event key (lower-case letters, digits, _)"
            )

    # adjust
    adjust = _default_adjust(kind, opts)
    if "adjust" in raw and "adjust" in allowed:
        a = raw["adjust"]
        if not isinstance(a, str) or a not in ADJUSTS:
            errs.add(
                f"{path}.adjust", f"unknown adjust {a!r} (expected one of {', '.join(ADJUSTS)})"
            )
        elif a == "skip" and kind != "weekdays":
            errs.add(f"{path}.adjust", "'skip' is only for kind 'weekdays'")
        else:
            adjust = a
    if len(errs.items) > n_before:
        return None
    return DueRule(kind=kind, time=t, adjust=adjust, **opts)


def _default_adjust(kind: str, opts: dict[str, Any]) -> str:
    if kind in ("weekly", "monthly", "quarterly", "yearly"):
        return "previous_workday"
    if kind == "activity":
        if opts.get("unit") == "working":
            return "none"
        off = opts.get("offset") or 0
        if off < 0:
            return "previous_workday"
        if off > 0:
            return "next_workday"
    return "none"


def _parse_calendar_due(errs: _Errs, raw: dict, path: str, kind: str, opts: dict) -> None:
    before_start = errs.boolean(raw, "before_start", path, default=False)
    has_day = "day" in raw
    has_before = "before_day" in raw
    chosen = [k for k, on in (("day", has_day), ("before_day", has_before)) if on]
    if before_start:
        chosen.append("before_start")
    if len(chosen) != 1:
        what = "none" if not chosen else ", ".join(chosen)
        errs.add(path, f"set exactly one of day, before_day, before_start = true (got {what})")
    if before_start:
        opts["before_start"] = True
        for k in ("covers", "month"):
            if k in raw:
                errs.add(f"{path}.{k}", "not allowed with before_start = true")
        return
    if has_day:
        d = errs.integer(raw, "day", path, lo=-28, hi=28)
        if d == 0:
            errs.add(f"{path}.day", "must be 1..28, or -1..-28 counted from the month's end")
        opts["day"] = d
    if has_before:
        opts["before_day"] = errs.integer(raw, "before_day", path, lo=2, hi=28)
    if kind == "quarterly":
        opts["month"] = errs.integer(raw, "month", path, lo=1, hi=3)
    elif kind == "yearly":
        opts["month"] = errs.integer(raw, "month", path, lo=1, hi=12)
    covers = errs.string(raw, "covers", path, required=False) or "current"
    if covers not in COVERS:
        errs.add(
            f"{path}.covers", f"unknown covers {covers!r} (expected previous, current or next)"
        )
    opts["covers"] = covers


def _weekday(errs: _Errs, value: Any, path: str) -> int | None:
    if isinstance(value, str) and value.strip().lower() in WEEKDAYS:
        return WEEKDAYS.index(value.strip().lower())
    errs.add(path, f"unknown weekday {value!r} (expected one of {', '.join(WEEKDAYS)})")
    return None


_FIELD_KEYS = (
    "key",
    "type",
    "label_zh",
    "label_en",
    "required",
    "unit",
    "min",
    "max",
    "max_length",
    "choices",
    "hint_zh",
    "hint_en",
)
_KPI_KEYS = ("key", "label_zh", "label_en", "numerator", "denominator", "op", "threshold", "format")


def _parse_report(errs: _Errs, raw: dict, path: str) -> ReportTemplate | None:
    n_before = len(errs.items)
    errs.unknown_keys(raw, path, ("fields", "kpis"))
    fields: list[ReportField] = []
    field_index: dict[str, int] = {}
    raw_fields = errs.array_of_tables(raw, "fields", f"{path}.fields")
    if "fields" in raw and isinstance(raw.get("fields"), list) and not raw["fields"]:
        errs.add(f"{path}.fields", "a report needs at least one field")
    for i, rf in enumerate(raw_fields):
        fp = f"{path}.fields[{i}]"
        if not isinstance(rf, dict):
            errs.add(fp, "expected a table")
            continue
        f = _parse_field(errs, rf, fp)
        if f is None:
            continue
        if f.key in field_index:
            errs.add(
                f"{fp}.key", f"duplicate field key {f.key!r} (also fields[{field_index[f.key]}])"
            )
            continue
        field_index[f.key] = i
        fields.append(f)
    by_key = {f.key: f for f in fields}

    kpis: list[Kpi] = []
    kpi_index: dict[str, int] = {}
    for i, rk in enumerate(errs.array_of_tables(raw, "kpis", f"{path}.kpis", required=False)):
        kp = f"{path}.kpis[{i}]"
        if not isinstance(rk, dict):
            errs.add(kp, "expected a table")
            continue
        errs.unknown_keys(rk, kp, _KPI_KEYS)
        n0 = len(errs.items)
        key = errs.key(rk, "key", kp, _FIELD_KEY_RE, "a key (lower-case letters, digits, _)")
        label_zh = errs.string(rk, "label_zh", kp)
        label_en = errs.string(rk, "label_en", kp)
        refs: dict[str, str | None] = {}
        for ref in ("numerator", "denominator"):
            name = errs.string(rk, ref, kp, required=(ref == "numerator"))
            refs[ref] = name
            if name is None:
                continue
            f = by_key.get(name)
            if f is None:
                known = ", ".join(by_key) or "none"
                errs.add(f"{kp}.{ref}", f"unknown field {name!r} (fields: {known})")
            elif not f.is_numeric:
                errs.add(f"{kp}.{ref}", f"field {name!r} is of type {f.type!r}, not a number type")
        op = errs.string(rk, "op", kp)
        if op is not None and op not in KPI_OPS:
            errs.add(f"{kp}.op", f"unknown op {op!r} (expected one of {', '.join(KPI_OPS)})")
        threshold = errs.number(rk, "threshold", kp)
        fmt = errs.string(rk, "format", kp, required=False)
        if fmt is None:
            fmt = "percent" if refs.get("denominator") else "number"
        elif fmt not in KPI_FORMATS:
            errs.add(f"{kp}.format", f"unknown format {fmt!r} (expected percent or number)")
        if key is not None and key in kpi_index:
            errs.add(f"{kp}.key", f"duplicate KPI key {key!r} (also kpis[{kpi_index[key]}])")
            continue
        if len(errs.items) > n0:
            continue
        assert key and label_zh and label_en and refs["numerator"] and op and threshold is not None
        kpi_index[key] = i
        kpis.append(
            Kpi(key, label_zh, label_en, refs["numerator"], refs["denominator"], op, threshold, fmt)
        )
    if len(errs.items) > n_before:
        return None
    return ReportTemplate(tuple(fields), tuple(kpis))


def _parse_field(errs: _Errs, raw: dict, path: str) -> ReportField | None:
    errs.unknown_keys(raw, path, _FIELD_KEYS)
    n0 = len(errs.items)
    key = errs.key(raw, "key", path, _FIELD_KEY_RE, "a key (lower-case letters, digits, _)")
    ftype = errs.string(raw, "type", path)
    if ftype is not None and ftype not in FIELD_TYPES:
        errs.add(
            f"{path}.type", f"unknown type {ftype!r} (expected one of {', '.join(FIELD_TYPES)})"
        )
        ftype = None
    label_zh = errs.string(raw, "label_zh", path)
    label_en = errs.string(raw, "label_en", path)
    required = errs.boolean(raw, "required", path, default=False)
    unit = errs.string(raw, "unit", path, required=False)
    hint_zh = errs.string(raw, "hint_zh", path, required=False) or ""
    hint_en = errs.string(raw, "hint_en", path, required=False) or ""
    lo = errs.number(raw, "min", path, required=False)
    hi = errs.number(raw, "max", path, required=False)
    max_length = errs.integer(raw, "max_length", path, required=False, lo=1, hi=100_000)
    choices: list[Choice] = []
    if ftype is not None:
        numeric = ftype in NUMERIC_TYPES
        for k in ("min", "max", "unit"):
            if k in raw and not numeric:
                errs.add(f"{path}.{k}", f"only for number types, not {ftype!r}")
        if "max_length" in raw and ftype not in TEXT_TYPES:
            errs.add(f"{path}.max_length", f"only for text and longtext, not {ftype!r}")
        if lo is not None and hi is not None and lo > hi:
            errs.add(f"{path}.max", f"smaller than min ({_num(lo)})")
        if ftype == "choice":
            choices = _parse_choices(errs, raw, path)
        elif "choices" in raw:
            errs.add(f"{path}.choices", f"only for type 'choice', not {ftype!r}")
    if len(errs.items) > n0:
        return None
    assert key and ftype and label_zh and label_en
    return ReportField(
        key=key,
        type=ftype,
        label_zh=label_zh,
        label_en=label_en,
        required=bool(required),
        unit=unit,
        min=lo,
        max=hi,
        max_length=max_length,
        choices=tuple(choices),
        hint_zh=hint_zh,
        hint_en=hint_en,
    )


def _parse_choices(errs: _Errs, raw: dict, path: str) -> list[Choice]:
    items = raw.get("choices")
    if items is None:
        errs.add(f"{path}.choices", "missing (required for type 'choice')")
        return []
    if not isinstance(items, list) or not items:
        errs.add(f"{path}.choices", "expected a non-empty list")
        return []
    out: list[Choice] = []
    seen: set[str] = set()
    for j, c in enumerate(items):
        cp = f"{path}.choices[{j}]"
        if isinstance(c, str):
            c = {"key": c, "label_zh": c, "label_en": c}
        if not isinstance(c, dict):
            errs.add(cp, "expected a string or a table {key, label_zh, label_en}")
            continue
        errs.unknown_keys(c, cp, ("key", "label_zh", "label_en"))
        key = errs.string(c, "key", cp)
        lz = errs.string(c, "label_zh", cp)
        le = errs.string(c, "label_en", cp)
        if key is None or lz is None or le is None:
            continue
        if key in seen:
            errs.add(f"{cp}.key", f"duplicate choice {key!r}")
            continue
        seen.add(key)
        out.append(Choice(key, lz, le))
    return out


def _expected(keys: Any) -> str:
    ks = sorted(keys)
    return f" (expected one of {', '.join(ks)})" if ks else ""


# ---------------------------------------------------------------------------------------
# Error-collecting readers
# ---------------------------------------------------------------------------------------


class _Errs:
    """Typed getters that record "path.key: problem" instead of raising."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, msg: str) -> None:
        self.items.append(f"{path}: {msg}")

    @staticmethod
    def _p(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def unknown_keys(self, tbl: dict, path: str, allowed: tuple[str, ...]) -> None:
        for k in tbl:
            if k not in allowed:
                self.add(self._p(path, k), f"unknown key (expected one of {', '.join(allowed)})")

    def table(self, tbl: dict, key: str, path: str, required: bool = True) -> dict | None:
        v = tbl.get(key)
        if v is None:
            if required:
                self.add(path, "missing table")
            return None
        if not isinstance(v, dict):
            self.add(path, f"expected a table, got {type(v).__name__}")
            return None
        return v

    def array_of_tables(self, tbl: dict, key: str, path: str, required: bool = True) -> list:
        v = tbl.get(key)
        if v is None:
            if required:
                self.add(path, f"missing (add at least one [[{key}]] table)")
            return []
        if not isinstance(v, list):
            self.add(path, f"expected an array of tables ([[{key}]]), got {type(v).__name__}")
            return []
        return v

    def string(
        self,
        tbl: dict,
        key: str,
        path: str,
        required: bool = True,
        empty_ok: bool = False,
    ) -> str | None:
        p = self._p(path, key)
        v = tbl.get(key)
        if v is None:
            if required:
                self.add(p, "missing")
            return None
        if not isinstance(v, str):
            self.add(p, f"expected a string, got {v!r}")
            return None
        if not empty_ok and not v.strip():
            self.add(p, "must not be empty")
            return None
        return v.strip()

    def key(self, tbl: dict, key: str, path: str, pattern: re.Pattern, what: str) -> str | None:
        v = self.string(tbl, key, path)
        if v is None:
            return None
        if not pattern.match(v) or len(v) > MAX_KEY_LENGTH:
            self.add(
                self._p(path, key), f"{v!r} is not {what}, at most {MAX_KEY_LENGTH} characters"
            )
            return None
        return v

    def boolean(self, tbl: dict, key: str, path: str, default: bool) -> bool | None:
        v = tbl.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            self.add(self._p(path, key), f"expected true or false, got {v!r}")
            return None
        return v

    def integer(
        self,
        tbl: dict,
        key: str,
        path: str,
        required: bool = True,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int | None:
        p = self._p(path, key)
        v = tbl.get(key)
        if v is None:
            if required:
                self.add(p, "missing")
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self.add(p, f"expected an integer, got {v!r}")
            return None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.add(p, f"{v} is out of range ({lo}..{hi})")
            return None
        return v

    def number(self, tbl: dict, key: str, path: str, required: bool = True) -> float | None:
        p = self._p(path, key)
        v = tbl.get(key)
        if v is None:
            if required:
                self.add(p, "missing")
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            self.add(p, f"expected a number, got {v!r}")
            return None
        return float(v)

    def hhmm(self, tbl: dict, key: str, path: str, required: bool = True) -> time | None:
        p = self._p(path, key)
        v = tbl.get(key)
        if v is None:
            if required:
                self.add(p, "missing")
            return None
        if isinstance(v, time):  # a TOML local time, e.g. 18:00:00
            return v.replace(second=0, microsecond=0)
        if isinstance(v, str):
            m = _HHMM_RE.match(v.strip())
            if m:
                return time(int(m.group(1)), int(m.group(2)))
        self.add(p, f'expected a time "HH:MM", got {v!r}')
        return None
