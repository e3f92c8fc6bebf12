"""The role-duty policy: a TOML file -> validated, frozen dataclasses.

* ``model``   the dataclasses the rest of the code reads (Policy, Role, Duty, DueRule, ...)
* ``wording`` how they read to people, in Chinese and English
* ``schema``  the file's shape as pydantic models (types, ranges, spellings)
* ``checks``  rules between tables (duplicates, cycles, KPI field references)
* ``loader``  ``load_policy(path | None)`` / ``parse_policy(dict)``: read, validate, build;
  ``PolicyError`` lists every problem, each naming its path and the duty or role it is in

The file format is documented in the shipped policy file, ``bot/policies/marketing.toml``.
Pure: no I/O except reading the policy file.

The model's names load with the package; the loader's (pydantic, ~0.2 s) on first use
(PEP 562), so reading a `Policy`'s types or constants does not import pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bot.domain.policy.model import (
    ADJUSTS,
    ANCHORS,
    COVERS,
    DUE_KINDS,
    FIELD_TYPES,
    KPI_FORMATS,
    KPI_OPS,
    MAX_KEY_LENGTH,
    NUMERIC_TYPES,
    PERIODIC_KINDS,
    REMINDER_WORDS,
    TEXT_TYPES,
    UNITS,
    WEEKDAYS,
    Choice,
    DueRule,
    Duty,
    Kpi,
    KpiResult,
    Policy,
    ReminderStep,
    ReportField,
    ReportTemplate,
    Role,
    Trigger,
)

if TYPE_CHECKING:  # pragma: no cover
    from bot.domain.policy.checks import Issue
    from bot.domain.policy.loader import (
        PolicyError,
        duty_from_json,
        load_policy,
        loads_policy,
        parse_policy,
    )

_LAZY = {
    "Issue": "bot.domain.policy.checks",
    "PolicyError": "bot.domain.policy.loader",
    "duty_from_json": "bot.domain.policy.loader",
    "load_policy": "bot.domain.policy.loader",
    "loads_policy": "bot.domain.policy.loader",
    "parse_policy": "bot.domain.policy.loader",
}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "ADJUSTS",
    "ANCHORS",
    "COVERS",
    "DUE_KINDS",
    "FIELD_TYPES",
    "KPI_FORMATS",
    "KPI_OPS",
    "MAX_KEY_LENGTH",
    "NUMERIC_TYPES",
    "PERIODIC_KINDS",
    "REMINDER_WORDS",
    "TEXT_TYPES",
    "UNITS",
    "WEEKDAYS",
    "Choice",
    "DueRule",
    "Duty",
    "Issue",
    "Kpi",
    "KpiResult",
    "Policy",
    "PolicyError",
    "ReminderStep",
    "ReportField",
    "ReportTemplate",
    "Role",
    "Trigger",
    "duty_from_json",
    "load_policy",
    "loads_policy",
    "parse_policy",
]
