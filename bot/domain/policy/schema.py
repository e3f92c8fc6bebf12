"""The policy file's shape as pydantic models: each table's keys, each value's type, range
and spelling. Relations between tables (duplicates, cycles, KPI field references) are
checked in ``checks``; ``loader`` turns both kinds of problem into path-named errors and
the validated specs into the model.

Strict mode: TOML values are typed, so "5" is not a number and 1 is not true. A value's
own problem is raised as ``problem(...)`` so that the message reads the same as the
rest of ours ("unknown weekday 'fry' (expected one of mon, ...)").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.domain.policy.model import (
    ADJUSTS,
    ANCHORS,
    COVERS,
    FIELD_TYPES,
    KPI_FORMATS,
    KPI_OPS,
    MAX_KEY_LENGTH,
    NUMERIC_TYPES,
    REMINDER_WORDS,
    TEXT_TYPES,
    UNITS,
    WEEKDAYS,
)
from bot.domain.policy.wording import num

ROLE_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
DUTY_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def problem(message: str) -> PydanticCustomError:
    # the message goes through the context, so braces in user input are not a template
    return PydanticCustomError("policy", "{message}", {"message": message})


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- value types ---------------------------------------------------------------------------


def _text(v: str) -> str:
    v = v.strip()
    if not v:
        raise problem("must not be empty")
    return v


Text = Annotated[str, AfterValidator(_text)]
OptText = Annotated[str, AfterValidator(str.strip)]  # may be empty


def _key(pattern: re.Pattern, what: str) -> AfterValidator:
    def check(v: str) -> str:
        v = _text(v)
        if not pattern.match(v) or len(v) > MAX_KEY_LENGTH:
            raise problem(f"{v!r} is not {what}, at most {MAX_KEY_LENGTH} characters")
        return v

    return AfterValidator(check)


RoleKey = Annotated[str, _key(ROLE_KEY_RE, "a role key (lower-case letters, digits, _)")]
DutyKey = Annotated[str, _key(DUTY_KEY_RE, "a dotted key such as 'manager.weekly_progress'")]
SimpleKey = Annotated[str, _key(ROLE_KEY_RE, "a key (lower-case letters, digits, _)")]


def one_of(what: str, options: tuple[str, ...], fold: bool = False) -> AfterValidator:
    def check(v: str) -> str:
        w = v.strip().lower() if fold else v
        if w not in options:
            raise problem(f"unknown {what} {v!r} (expected one of {', '.join(options)})")
        return w

    return AfterValidator(check)


def in_range(lo: int, hi: int) -> AfterValidator:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise problem(f"{v} is out of range ({lo}..{hi})")
        return v

    return AfterValidator(check)


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise problem(f"expected a number, got {v!r}")
    return float(v)


def _hhmm(v: Any) -> time:
    if isinstance(v, time):  # a TOML local time, e.g. 18:00:00
        return v.replace(second=0, microsecond=0)
    if isinstance(v, str) and (m := HHMM_RE.match(v.strip())):
        return time(int(m.group(1)), int(m.group(2)))
    raise problem(f'expected a time "HH:MM", got {v!r}')


def _timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem(f"unknown time zone {v!r}") from None
    return v


def _known_role(*, empty_ok: bool) -> Callable[[str, ValidationInfo], str]:
    """A role reference; checked when the loader passes the file's role keys as context."""

    def check(v: str, info: ValidationInfo) -> str:
        keys = (info.context or {}).get("role_keys")
        if v and keys is not None and v not in keys:
            raise problem(f"unknown role {v!r}{expected(keys)}")
        if not v and not empty_ok:
            raise problem("must not be empty")
        return v

    return check


def expected(keys: Any) -> str:
    ks = sorted(keys)
    return f" (expected one of {', '.join(ks)})" if ks else ""


Number = Annotated[float, AfterValidator(_finite)]
HHMM = Annotated[time, PlainValidator(_hhmm)]
Weekday = Annotated[str, one_of("weekday", WEEKDAYS, fold=True)]
RoleRef = Annotated[str, AfterValidator(str.strip), AfterValidator(_known_role(empty_ok=False))]
OptRoleRef = Annotated[str, AfterValidator(str.strip), AfterValidator(_known_role(empty_ok=True))]
Adjust = Annotated[str, one_of("adjust", ADJUSTS)]


def _no_skip(v: str) -> str:
    if v == "skip":
        raise problem("'skip' is only for kind 'weekdays'")
    return v


CalendarAdjust = Annotated[Adjust, AfterValidator(_no_skip)]


# -- [policy] ------------------------------------------------------------------------------


class WorkingHoursSpec(Spec):
    start: HHMM
    end: HHMM

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and v <= start:
            raise problem(f"must be after start ({start:%H:%M})")
        return v


def _recipient(v: str, info: ValidationInfo) -> str:
    keys = (info.context or {}).get("role_keys") or set()
    if v not in REMINDER_WORDS and v not in keys:
        allowed = ", ".join(list(REMINDER_WORDS) + sorted(keys))
        raise problem(f"unknown recipient {v!r} (expected one of {allowed})")
    return v


class StepSpec(Spec):
    key: SimpleKey
    offset: Annotated[int, in_range(-30, 60)]
    who: Annotated[list[Annotated[str, AfterValidator(_recipient)]], Field(min_length=1)]


class RemindersSpec(Spec):
    working_hours: WorkingHoursSpec | None = None
    steps: list[StepSpec] = []


class PolicyHeadSpec(Spec):
    name: Text
    name_en: Text
    timezone: Annotated[str, AfterValidator(_timezone)] = "Asia/Shanghai"
    default_due_time: HHMM = time(18, 0)
    rejection_redo_workdays: Annotated[int, in_range(0, 60)] = 2
    approval_window_workdays: Annotated[int, in_range(1, 60)] = 2
    reminders: RemindersSpec | None = None


# -- [[roles]] -----------------------------------------------------------------------------


def _not_reserved(v: str) -> str:
    if v in REMINDER_WORDS:
        raise problem(f"{v!r} is reserved")
    return v


class RoleSpec(Spec):
    key: Annotated[RoleKey, AfterValidator(_not_reserved)]
    name_zh: Text
    name_en: Text
    reports_to: OptRoleRef = ""  # "" = outside the department
    reports_to_label: OptText = ""


# -- [duties.due] --------------------------------------------------------------------------


class _Due(Spec):
    time: HHMM | None = None  # None: the policy's default_due_time


class WeeklyDue(_Due):
    kind: Literal["weekly"]
    weekday: Weekday
    adjust: CalendarAdjust | None = None


class WeekdaysDue(_Due):
    kind: Literal["weekdays"]
    days: Annotated[list[Weekday], Field(min_length=1)]
    adjust: Adjust | None = None

    @field_validator("days")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        dup = sorted({d for d in v if v.count(d) > 1})
        if dup:
            raise problem(f"duplicate weekday {', '.join(map(repr, dup))}")
        return v


def _day(v: int) -> int:
    if v == 0 or not -28 <= v <= 28:
        raise problem(f"{v}: must be 1..28, or -1..-28 counted from the month's end")
    return v


class _CalendarDue(_Due):
    day: Annotated[int, AfterValidator(_day)] | None = None
    before_day: Annotated[int, in_range(2, 28)] | None = None
    workday: Annotated[int, in_range(1, 23)] | None = None  # the Nth working day
    before_start: bool = False
    covers: Annotated[str, one_of("covers", COVERS)] | None = None
    adjust: CalendarAdjust | None = None

    @model_validator(mode="after")
    def _shape(self) -> _CalendarDue:
        chosen = [k for k in ("day", "before_day", "workday") if getattr(self, k) is not None]
        if self.before_start:
            chosen.append("before_start")
        wrong = []
        if len(chosen) != 1:
            got = ", ".join(chosen) or "none"
            wrong.append(
                f"set exactly one of day, before_day, workday, before_start = true (got {got})"
            )
        if self.before_start:
            wrong += [
                f"{k} is not allowed with before_start = true"
                for k in ("covers", "month")
                if getattr(self, k, None) is not None
            ]
        elif self.kind != "monthly" and getattr(self, "month", None) is None:
            wrong.append("month is missing (required with day, before_day or workday)")
        if self.workday is not None and self.adjust is not None:
            wrong.append("adjust has no effect with workday (the date is a working day)")
        if wrong:
            raise problem("; ".join(wrong))
        return self


class MonthlyDue(_CalendarDue):
    kind: Literal["monthly"]


class QuarterlyDue(_CalendarDue):
    kind: Literal["quarterly"]
    month: Annotated[int, in_range(1, 3)] | None = None  # month within the quarter


class YearlyDue(_CalendarDue):
    kind: Literal["yearly"]
    month: Annotated[int, in_range(1, 12)] | None = None


class ActivityDue(_Due):
    kind: Literal["activity"]
    anchor: Annotated[str, one_of("anchor", ANCHORS)]
    offset: Annotated[int, in_range(-366, 366)]
    unit: Annotated[str, one_of("unit", UNITS)] = "calendar"
    adjust: CalendarAdjust | None = None

    @field_validator("adjust")
    @classmethod
    def _useful(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("unit") == "working":
            raise problem("has no effect with unit = 'working' (the date is a working day)")
        return v


def _known_trigger(v: str, info: ValidationInfo) -> str:
    """A trigger reference; checked when the loader passes the file's trigger keys."""
    keys = (info.context or {}).get("trigger_keys")
    if keys is not None and v not in keys:
        if not keys:
            raise problem(f"unknown trigger {v!r} (declare it in a [[triggers]] table)")
        raise problem(f"unknown trigger {v!r}{expected(keys)}")
    return v


class SlaDue(Spec):  # no time of day: due N hours after the event
    kind: Literal["sla"]
    hours: Number
    trigger: Annotated[SimpleKey, AfterValidator(_known_trigger)] | None = None
    unit: Annotated[str, one_of("unit", UNITS)] = "calendar"  # working: within working hours

    @field_validator("hours")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not 0 < v <= 24 * 366:
            raise problem(f"expected a positive number of hours, got {num(v)}")
        return v


DueSpec = Annotated[
    WeeklyDue | WeekdaysDue | MonthlyDue | QuarterlyDue | YearlyDue | ActivityDue | SlaDue,
    Field(discriminator="kind"),
]
DUE_SPECS: dict[str, type[Spec]] = {
    "weekly": WeeklyDue,
    "weekdays": WeekdaysDue,
    "monthly": MonthlyDue,
    "quarterly": QuarterlyDue,
    "yearly": YearlyDue,
    "activity": ActivityDue,
    "sla": SlaDue,
}


# -- [duties.report] -----------------------------------------------------------------------


def _choice_table(v: Any) -> Any:
    if isinstance(v, str):  # shorthand: choices = ["a", "b"]
        return {"key": v, "label_zh": v, "label_en": v}
    return v


class ChoiceSpec(Spec):
    key: Text
    label_zh: Text
    label_en: Text


class FieldSpec(Spec):
    key: SimpleKey
    type: Annotated[str, one_of("type", FIELD_TYPES)]  # first: the options below depend on it
    label_zh: Text
    label_en: Text
    required: bool = False
    unit: Text | None = None
    min: Number | None = None
    max: Number | None = None
    max_length: Annotated[int, in_range(1, 100_000)] | None = None
    choices: (
        Annotated[list[Annotated[ChoiceSpec, BeforeValidator(_choice_table)]], Field(min_length=1)]
        | None
    ) = None
    hint_zh: OptText = ""
    hint_en: OptText = ""

    @field_validator("unit", "min", "max")
    @classmethod
    def _numeric_only(cls, v: Any, info: ValidationInfo) -> Any:
        t = info.data.get("type")
        if t is not None and t not in NUMERIC_TYPES:
            raise problem(f"only for number types, not {t!r}")
        if info.field_name == "max" and (lo := info.data.get("min")) is not None and v < lo:
            raise problem(f"smaller than min ({num(lo)})")
        return v

    @field_validator("max_length")
    @classmethod
    def _text_only(cls, v: int, info: ValidationInfo) -> int:
        t = info.data.get("type")
        if t is not None and t not in TEXT_TYPES:
            raise problem(f"only for text and longtext, not {t!r}")
        return v

    @field_validator("choices")
    @classmethod
    def _choice_only(cls, v: list[ChoiceSpec], info: ValidationInfo) -> list[ChoiceSpec]:
        t = info.data.get("type")
        if t is not None and t != "choice":
            raise problem(f"only for type 'choice', not {t!r}")
        keys = [c.key for c in v]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise problem(f"duplicate choice {', '.join(map(repr, dup))}")
        return v

    @model_validator(mode="after")
    def _choices_given(self) -> FieldSpec:
        if self.type == "choice" and not self.choices:
            raise problem("choices: missing (required for type 'choice')")
        return self


class KpiSpec(Spec):
    key: SimpleKey
    label_zh: Text
    label_en: Text
    numerator: Text  # field keys: checked against the report's fields in checks
    denominator: Text | None = None
    op: Annotated[str, one_of("op", KPI_OPS)]
    threshold: Number
    format: Annotated[str, one_of("format", KPI_FORMATS)] | None = None


class ReportSpec(Spec):
    fields: Annotated[list[FieldSpec], Field(min_length=1)]
    kpis: list[KpiSpec] = []


# -- [[triggers]] -------------------------------------------------------------------------

TRIGGER_WORD_MAX = 20


def _trigger_word(v: str) -> str:
    v = _text(v)
    if len(v) > TRIGGER_WORD_MAX:
        raise problem(f"{v!r} is longer than {TRIGGER_WORD_MAX} characters")
    if any(c in v for c in ":：\n"):
        raise problem(f"{v!r}: write the word without the colon (it is added when matching)")
    return v


TriggerWord = Annotated[str, AfterValidator(_trigger_word)]


class TriggerSpec(Spec):
    """What starts SLA duties from chat: ``咨询：…`` / ``question: …`` or a forwarded message."""

    key: SimpleKey
    name_zh: Text
    name_en: Text
    words_zh: list[TriggerWord] = []
    words_en: list[TriggerWord] = []

    @model_validator(mode="after")
    def _some_word(self) -> TriggerSpec:
        if not self.words_zh and not self.words_en:
            raise problem("give at least one word in words_zh or words_en")
        return self


# -- [[duties]] and the file ---------------------------------------------------------------


class DutySpec(Spec):
    key: DutyKey
    role: RoleRef
    name_zh: Text
    name_en: Text
    clause: Text
    inferred: bool = False
    approver_role: OptRoleRef | None = None  # None: the role's reports_to; "": outside
    due: DueSpec
    report: ReportSpec | None = None


class FileSpec(Spec):
    """The top level only; each table is validated on its own so that one broken duty
    does not hide the problems of the others."""

    policy: dict[str, Any]
    roles: list[dict[str, Any]]
    duties: list[dict[str, Any]]
    triggers: list[dict[str, Any]] = []
