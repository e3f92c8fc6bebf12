"""`dutybot policy draft` on other departments' written policies (HR, sales, finance, IT
operations, an English one, a Word file): what a reviewer checks in the draft: roles, duty
names, due rules, report fields and KPIs, and that `policy check` passes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from bot.domain.policy import parse_policy
from bot.domain.policy_draft import draft_policy

DOCS = Path(__file__).resolve().parent / "data" / "policy_docs"


def _data(path: Path) -> dict:
    data = tomllib.loads(draft_policy(path).toml)
    parse_policy(data, "draft")  # what `policy check` runs
    return data


def _by_name(data: dict) -> dict[str, dict]:
    return {d["name_zh"]: d for d in data["duties"]}


def test_hr_within_working_days_after_the_quarter_is_the_nth_working_day():
    duties = list(_data(DOCS / "hr.zh.txt")["duties"])
    (social,) = [d for d in duties if "社保" in d["clause"]]
    assert social["due"] == {"kind": "quarterly", "month": 1, "workday": 10, "covers": "previous"}
