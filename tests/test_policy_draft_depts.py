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


def _kpis(duty: dict) -> list[tuple[str, str, str | None, float]]:
    return [
        (k["label_zh"], k["op"], k.get("denominator"), k["threshold"])
        for k in duty.get("report", {}).get("kpis", [])
    ]


def test_hr_roles_names_and_keys_read_as_english_not_pinyin():
    data = _data(DOCS / "hr.zh.txt")
    roles = {r["name_zh"]: r for r in data["roles"]}
    assert {n: (r["key"], r["name_en"], r["reports_to"]) for n, r in roles.items()} == {
        "招聘专员": ("recruiting", "Recruiting Specialist", "hr_manager"),
        "薪酬福利专员": (
            "compensation_benefits",
            "Compensation & Benefits Specialist",
            "hr_manager",
        ),
        "培训专员": ("training", "Training Specialist", "hr_manager"),
        "人力资源经理": ("hr_manager", "Human Resources Manager", ""),
    }
    duties = _by_name(data)
    # clean noun phrases: no left-over 内, no 每次, no numeral turned into a digit
    assert list(duties) == [
        "上周招聘进展周报",
        "入职手续办理",
        "上月工资核算",
        "社保公积金缴纳情况报告",
        "培训总结",
        "下一年度培训计划",
        "人力资源月报",
    ]
    assert duties["入职手续办理"]["name_en"] == "Onboarding Paperwork Processing"
    assert duties["下一年度培训计划"]["key"] == "training.next_year_training_plan"
    keys = [d["key"] for d in data["duties"]] + [r["key"] for r in data["roles"]]
    keys += [f["key"] for d in data["duties"] for f in d.get("report", {}).get("fields", [])]
    for pinyin in ("fuli", "jinzhan", "canxun", "jiaona", "meici", "xia_1", "banli"):
        assert not [k for k in keys if pinyin in k], pinyin
    toml = draft_policy(DOCS / "hr.zh.txt").toml
    assert "partly pinyin" not in toml


def test_hr_due_rules_working_days_budget_and_approval_window():
    data = _data(DOCS / "hr.zh.txt")
    duties = _by_name(data)
    assert duties["上周招聘进展周报"]["due"] == {
        "kind": "weekly",
        "weekday": "mon",
        "time": "10:00",
    }
    assert duties["社保公积金缴纳情况报告"]["due"] == {
        "kind": "quarterly",
        "month": 1,
        "workday": 10,  # 10个工作日, not calendar days
        "covers": "previous",
    }
    assert duties["培训总结"]["due"] == {
        "kind": "activity",
        "anchor": "end",
        "offset": 3,
        "unit": "working",
    }
    assert duties["下一年度培训计划"]["due"]["covers"] == "next"
    # 培训费用（不得超过预算）: spend / budget <= 100%, with a budget field
    assert _kpis(duties["培训总结"]) == [
        ("满意度 >= 90%", ">=", None, 0.9),
        ("培训费用 <= 预算", "<=", "budget", 1.0),
    ]
    fields = {f["key"]: f["type"] for f in duties["培训总结"]["report"]["fields"]}
    assert fields["training_expenses"] == fields["budget"] == "money"
    assert _kpis(duties["社保公积金缴纳情况报告"])[0][1:] == (">=", None, 1.0)
    # 审批…收到后2个工作日内完成审批: the policy's approval window, not a chat-logged SLA
    assert data["policy"]["approval_window_workdays"] == 2
    assert not [d for d in data["duties"] if d["due"]["kind"] == "sla"]
    assert "triggers" not in data
    # the approval sentence names the roles whose reports the HR manager approves
    assert all("guessed" not in n for n in draft_policy(DOCS / "hr.zh.txt").draft.review_items())
    # 向总经理提交: approved outside the department, as stated
    assert duties["人力资源月报"]["approver_role"] == ""
