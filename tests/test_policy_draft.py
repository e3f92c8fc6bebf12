"""`dutybot policy draft`: policy files drafted from written role-duty policies.

The documents under tests/data/policy_docs are written in different styles on purpose
(Chinese and English; .txt, .md, .docx; numbered in different ways); the assertions are
about what an admin reads in the draft: roles, who reports to whom, due rules, report
fields, KPI checks and what is flagged for review.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.domain.policy import parse_policy
from bot.domain.policy_draft import DraftError, draft_from_text, draft_policy

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "tests" / "data" / "policy_docs"
SEED = ROOT.parent.parent / "shared" / "seed" / "marketing-role-policy.zh.txt"


def _data(result) -> dict:
    data = tomllib.loads(result.toml)
    parse_policy(data, "draft")  # the draft is a valid policy file, as `policy check` says
    return data


def _roles(data: dict) -> dict[str, dict]:
    return {r["name_zh"]: r for r in data["roles"]}


def _duty(data: dict, role_key: str, **due) -> dict:
    found = [
        d
        for d in data["duties"]
        if d["role"] == role_key and all(d["due"].get(k) == v for k, v in due.items())
    ]
    assert len(found) == 1, (role_key, due, [(d["key"], d["due"]) for d in data["duties"]])
    return found[0]


def _fields(duty: dict) -> list[str]:
    return [f["label_zh"] for f in duty.get("report", {}).get("fields", [])]


def _kpis(duty: dict) -> list[tuple[str, float, str | None]]:
    return [
        (k["op"], k["threshold"], k.get("denominator"))
        for k in duty.get("report", {}).get("kpis", [])
    ]


@pytest.fixture(scope="module")
def seed() -> dict:
    path = SEED if SEED.exists() else DOCS / "marketing.zh.txt"
    return _data(draft_policy(path))


def test_seed_roles_hierarchy_and_overview_roles(seed):
    roles = _roles(seed)
    assert list(roles) == [
        "市场总监", "市场经理", "市场策划专员", "品牌运营专员", "数字营销专员", "市场调研专员",
        "客户关系专员",
    ]  # fmt: skip
    director, manager = roles["市场总监"], roles["市场经理"]
    assert director["name_en"] == "Marketing Director"
    # "负责承接市场总监战略部署" names the manager's superior
    assert manager["reports_to"] == director["key"]
    assert roles["品牌运营专员"]["reports_to"] == manager["key"]
    # named in the overview only: kept, no duties, flagged
    digital = roles["数字营销专员"]
    assert not [d for d in seed["duties"] if d["role"] == digital["key"]]


def test_seed_due_rules_fields_and_kpis(seed):
    roles = {k: v["key"] for k, v in _roles(seed).items()}
    manager, planner, brand = roles["市场经理"], roles["市场策划专员"], roles["品牌运营专员"]
    weekly = _duty(seed, manager, kind="weekly")
    assert _fields(weekly) == ["完成率", "风险点", "需支持事项"]
    assert weekly["inferred"] is True  # the weekday is a guess
    assert weekly["report"]["fields"][0]["type"] == "percent"
    retro = _duty(seed, manager, kind="activity", anchor="end")
    assert (retro["due"]["offset"], retro["due"]["unit"]) == (7, "working")
    assert "项目结束后7个工作日内" in retro["clause"]
    assert _duty(seed, manager, kind="activity", anchor="start")["due"]["offset"] == -30
    plan = _duty(seed, manager, kind="activity", anchor="start")
    assert plan["due"]["offset"] == -30
    assert _kpis(_duty(seed, manager, kind="quarterly")) == [(">=", 0.8, None)]
    assert _duty(seed, planner, kind="activity", anchor="start")["due"]["offset"] == -15
    report = _duty(seed, planner, kind="activity", anchor="end")
    assert report["name_zh"] == "活动执行报告" and report["due"]["unit"] == "working"
    assert _fields(report)[:3] == ["参与人数", "留资数量", "现场成交数据"]
    assert _duty(seed, brand, kind="weekdays")["due"]["days"] == ["tue", "thu", "sat"]
    assert _duty(seed, brand, kind="sla", hours=24)
    monthly = _duty(seed, brand, kind="monthly", before_day=5)
    assert monthly["name_zh"] == "品牌传播月报"


def test_seed_untimed_duties_are_review_notes_not_duties(seed):
    text = draft_policy(SEED if SEED.exists() else DOCS / "marketing.zh.txt").toml
    assert "# REVIEW: stated without a time" in text
    assert "#   - 资源协调：统筹市场预算分配" in text
    assert not any("资源协调" in d["clause"] for d in seed["duties"])


def test_sales_document_in_chinese():
    result = draft_policy(DOCS / "sales.zh.txt")
    data = _data(result)
    roles = _roles(data)
    assert list(roles) == ["销售总监", "销售经理", "销售代表", "销售助理"]
    director, manager, rep = (roles[n]["key"] for n in ("销售总监", "销售经理", "销售代表"))
    assert roles["销售总监"]["name_en"] == "Sales Director"  # as the document gives it
    assert (
        roles["销售总监"]["reports_to"] == "" and "总经理" in roles["销售总监"]["reports_to_label"]
    )
    assert roles["销售经理"]["reports_to"] == director  # "向销售总监汇报"
    assert roles["销售代表"]["reports_to"] == manager  # "在销售经理的领导下"
    assert not [d for d in data["duties"] if d["role"] == roles["销售助理"]["key"]]
    assert "销售助理" in result.summary() or roles["销售助理"]["key"] in result.summary()

    plan = _duty(data, director, kind="yearly")
    assert (plan["due"]["month"], plan["due"]["before_day"]) == (12, 20)
    assert plan["due"]["covers"] == "next"  # "编制下一年度销售计划"
    assert plan["approver_role"] == ""  # "报总经理审批": outside the department
    review = _duty(data, director, kind="quarterly")
    assert review["due"] == {
        "kind": "quarterly",
        "month": 1,
        "before_day": 10,
        "covers": "previous",
    }
    assert _fields(review) == ["销售额", "回款率", "重点客户变化"]
    meeting = _duty(data, manager, kind="weekly", weekday="mon")
    assert meeting["due"]["time"] == "10:00" and "inferred" not in meeting
    weekly = _duty(data, manager, kind="weekly", weekday="fri")
    assert _fields(weekly) == ["本周签约金额", "新增商机数量", "下周计划"]
    assert [f["type"] for f in weekly["report"]["fields"]][:2] == ["money", "integer"]
    collections = _duty(data, manager, kind="monthly", before_day=5)
    assert collections["due"]["covers"] == "previous"  # "上月回款对账"
    assert _kpis(collections) == [(">=", 0.95, None)]
    costs = _duty(data, manager, kind="monthly", day=-1)
    assert _kpis(costs) == [("<=", 0.9, "budget")]  # "不超过预算的90%"
    assert _duty(data, rep, kind="weekdays")["due"]["days"] == ["tue", "thu"]
    assert _duty(data, rep, kind="sla")["due"]["hours"] == 24
    # the chapter after the roles ("第三章 考核与奖惩") is not a role's duties
    assert not any("绩效面谈" in d["clause"] for d in data["duties"])
    assert "绩效面谈" not in result.toml


def test_support_document_in_english_markdown():
    result = draft_policy(DOCS / "support.en.md")
    data = _data(result)
    roles = {r["name_en"]: r for r in data["roles"]}
    assert list(roles) == [
        "Support Director",
        "Support Team Lead",
        "Support Agent",
        "Quality Analyst",
    ]
    lead, agent, qa = (
        roles[n]["key"] for n in ("Support Team Lead", "Support Agent", "Quality Analyst")
    )
    assert roles["Support Director"]["reports_to_label"] == "COO"
    assert roles["Support Agent"]["reports_to"] == lead
    weekly = _duty(data, lead, kind="weekly")
    assert weekly["due"] == {"kind": "weekly", "weekday": "fri", "time": "17:00"}
    assert _fields(weekly) == ["Backlog", "SLA breaches", "Escalations"]
    assert _duty(data, lead, kind="monthly", before_day=25)
    quality = _duty(data, lead, kind="monthly", day=5)
    assert quality["due"]["covers"] == "previous" and _kpis(quality) == [(">=", 0.9, None)]
    assert _duty(data, agent, kind="sla", hours=4)
    assert _duty(data, agent, kind="sla", hours=0.5)
    assert _duty(data, qa, kind="weekdays")["due"]["days"] == ["tue", "thu"]
    launch = _duty(data, qa, kind="activity")
    assert launch["due"] == {"kind": "activity", "anchor": "end", "offset": 3, "unit": "working"}
    assert launch["inferred"] is True  # a launch taken as an activity
    assert "Keep the knowledge base accurate." in result.toml  # a review note
    director = roles["Support Director"]["key"]
    assert _duty(data, director, kind="quarterly")["due"]["day"] == -1


def test_hr_document_in_word_with_automatic_numbering(tmp_path):
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_heading("人力资源部岗位职责", level=1)
    doc.add_paragraph("人力资源部设人力资源经理、招聘专员、薪酬专员三个岗位。")
    doc.add_heading("人力资源经理", level=2)
    doc.add_paragraph("直接上级：行政副总")
    for text in (
        "每季度末组织绩效考核，考核完成率达到100%。",
        "每年1月31日前完成年度培训计划。",
    ):
        doc.add_paragraph(text, style="List Number")
    doc.add_heading("招聘专员", level=2)
    doc.add_paragraph("向人力资源经理汇报。")
    for text in (
        "收到用人需求后2个工作日内发布招聘信息。",
        "新员工入职前3天准备工位和账号。",
        "每周五提交招聘周报，内容包括面试人数、录用人数和到岗率。",
    ):
        doc.add_paragraph(text, style="List Number")
    path = tmp_path / "hr.docx"
    doc.save(path)

    result = draft_policy(path)
    data = _data(result)
    roles = _roles(data)
    assert list(roles) == ["人力资源经理", "招聘专员", "薪酬专员"]
    hr, recruiter = roles["人力资源经理"]["key"], roles["招聘专员"]["key"]
    assert roles["人力资源经理"]["reports_to_label"] == "行政副总"
    assert roles["招聘专员"]["reports_to"] == hr
    appraisal = _duty(data, hr, kind="quarterly")
    assert (appraisal["due"]["month"], appraisal["due"]["day"]) == (3, -1)
    training = _duty(data, hr, kind="yearly")  # "1月31日前": the 30th, counted from the end
    assert training["due"] == {"kind": "yearly", "month": 1, "day": -2}
    posting = _duty(data, recruiter, kind="sla")
    # 2个工作日 = 2 working days of working hours (a weekend does not count)
    assert (posting["due"]["hours"], posting["due"]["unit"]) == (18, "working")
    assert posting["inferred"] is True
    onboarding = _duty(data, recruiter, kind="activity")
    assert onboarding["due"]["offset"] == -3 and onboarding["inferred"] is True
    weekly = _duty(data, recruiter, kind="weekly")
    assert _fields(weekly) == ["面试人数", "录用人数", "到岗率"]
    assert [f["type"] for f in weekly["report"]["fields"]] == ["integer", "integer", "percent"]


def test_a_document_without_roles_is_a_clear_error():
    with pytest.raises(DraftError, match="no role found"):
        draft_from_text("第一章 总则\n为规范管理，制定本制度。\n")


def test_cli_writes_a_draft_that_policy_check_accepts(tmp_path, run_cli):
    out = tmp_path / "sales.toml"
    result = run_cli("policy", "draft", str(DOCS / "sales.zh.txt"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "4 roles" in result.stderr and "need review" in result.stderr
    check = run_cli("policy", "check", str(out))
    assert check.returncode == 0 and "OK (4 roles" in check.stdout
    again = run_cli("policy", "draft", str(DOCS / "sales.zh.txt"), "-o", str(out))
    assert again.returncode == 2 and "--force" in again.stderr

    empty = tmp_path / "empty.txt"
    empty.write_text("本制度自发布之日起施行。\n", encoding="utf-8")
    bad = run_cli("policy", "draft", str(empty))
    assert bad.returncode == 2 and "no role found" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stdout == ""
    pdf = tmp_path / "policy.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    wrong = run_cli("policy", "draft", str(pdf))
    assert wrong.returncode == 2 and ".txt, .md or .docx" in wrong.stderr
    printed = run_cli("policy", "draft", str(DOCS / "support.en.md"))
    assert printed.returncode == 0 and printed.stdout.startswith("# Policy DRAFT")
    assert tomllib.loads(printed.stdout)["roles"][0]["name_en"] == "Support Director"


def test_the_draft_is_deterministic():
    a = draft_policy(DOCS / "support.en.md").toml
    b = draft_policy(DOCS / "support.en.md").toml
    assert a == b


def test_finance_document_in_articles():
    """章 > 条 > （一）: the role is named in an article, its duties are its clauses."""
    result = draft_policy(DOCS / "finance.zh.txt")
    data = _data(result)
    roles = _roles(data)
    assert list(roles) == ["财务经理", "会计", "出纳"]
    fm, accountant, cashier = (roles[n]["key"] for n in ("财务经理", "会计", "出纳"))
    statements = _duty(data, fm, kind="monthly")
    assert statements["due"] == {"kind": "monthly", "before_day": 10, "covers": "previous"}
    assert statements["approver_role"] == ""  # 报总经理审批
    assert _duty(data, fm, kind="yearly")["due"] == {"kind": "yearly", "month": 4, "day": -2}
    assert _duty(data, fm, kind="quarterly")["name_zh"] == "资产盘点"
    closing = _duty(data, accountant, kind="monthly")
    assert _kpis(closing) == [(">=", 0.99, None)]
    daily = _duty(data, cashier, kind="weekdays")
    assert daily["due"]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert _fields(_duty(data, cashier, kind="weekly")) == ["收入", "支出", "余额"]
    # the closing chapter's article is not a duty
    assert "自发布之日起施行" not in result.toml


def test_english_word_document_with_a_roles_table(tmp_path):
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_heading("Sales Team Roles", level=1)
    table = doc.add_table(rows=3, cols=2)
    rows = [
        ("Role", "Responsibilities"),
        (
            "Sales Manager\nReports to the VP of Sales",
            "1. Run the pipeline review every Monday at 9:30 am.\n"
            "2. Send the monthly sales report before the 3rd of the following month, "
            "including revenue, new accounts and churn.",
        ),
        (
            "Account Executive\nReports to the Sales Manager",
            "1. Log every customer call in the CRM every working day.\n"
            "2. Submit a pipeline forecast by the 25th of each month; win rate of at least 30%.\n"
            "3. Answer inbound leads within 2 hours.\n"
            "4. Build good customer relationships.",
        ),
    ]
    for row, (left, right) in zip(table.rows, rows, strict=True):
        row.cells[0].text, row.cells[1].text = left, right
    path = tmp_path / "sales.docx"
    doc.save(path)

    result = draft_policy(path)
    data = _data(result)
    roles = {r["name_en"]: r for r in data["roles"]}
    assert list(roles) == ["Sales Manager", "Account Executive"]
    manager, ae = roles["Sales Manager"]["key"], roles["Account Executive"]["key"]
    assert roles["Account Executive"]["reports_to"] == manager
    assert roles["Sales Manager"]["reports_to_label"] == "VP of Sales"
    review = _duty(data, manager, kind="weekly")
    assert review["due"] == {"kind": "weekly", "weekday": "mon", "time": "09:30"}
    report = _duty(data, manager, kind="monthly")
    assert report["due"] == {"kind": "monthly", "before_day": 3, "covers": "previous"}
    assert _fields(report) == ["Revenue", "New accounts", "Churn"]
    assert _duty(data, ae, kind="weekdays")["due"]["adjust"] == "skip"
    forecast = _duty(data, ae, kind="monthly")
    assert forecast["due"]["day"] == 25 and _kpis(forecast) == [(">=", 0.3, None)]
    assert _duty(data, ae, kind="sla")["due"]["hours"] == 2
    assert "Build good customer relationships." in result.toml


def test_markdown_table_of_roles_and_duties():
    text = (
        "# 行政部岗位职责\n\n"
        "| 岗位 | 英文 | 职责 |\n|---|---|---|\n"
        "| 行政主管 | Admin Supervisor | 1. 每月25日前编制下月办公用品采购计划<br>2. 每季度末组织消防检查 |\n"
        "| 行政专员 | Admin Specialist | 1. 每个工作日9:00前检查会议室<br>2. 来访登记须在10分钟内完成 |\n"
    )
    data = _data(draft_from_text(text, "admin.md", markdown=True))
    roles = _roles(data)
    assert list(roles) == ["行政主管", "行政专员"]
    assert roles["行政主管"]["name_en"] == "Admin Supervisor"
    sup, spec = roles["行政主管"]["key"], roles["行政专员"]["key"]
    assert roles["行政专员"]["reports_to"] == sup
    assert _duty(data, sup, kind="monthly")["due"]["before_day"] == 25
    assert _duty(data, sup, kind="quarterly")["due"]["day"] == -1
    assert _duty(data, spec, kind="weekdays")["due"]["time"] == "09:00"
    assert _duty(data, spec, kind="sla")["due"]["hours"] == pytest.approx(10 / 60, abs=0.001)


def test_roles_without_any_timed_duty_are_a_clear_error():
    with pytest.raises(DraftError, match="no duty that states a cadence") as exc:
        draft_from_text("一、客服主管\n1、负责团队管理。\n二、客服专员\n1、热情服务客户。\n")
    assert "客服主管" in str(exc.value)


def test_english_job_descriptions_in_plain_text():
    data = _data(draft_policy(DOCS / "success.en.txt"))
    roles = {r["name_en"]: r for r in data["roles"]}
    assert list(roles) == [
        "Head of Customer Success",
        "Customer Success Manager",
        "Onboarding Specialist",
    ]
    head, csm, onb = (r["key"] for r in roles.values())
    assert roles["Head of Customer Success"]["reports_to_label"] == "Chief Operating Officer"
    assert roles["Customer Success Manager"]["reports_to"] == head  # "Reporting line: …"
    assert roles["Onboarding Specialist"]["reports_to"] == csm
    review = _duty(data, head, kind="quarterly")
    assert review["due"] == {"kind": "quarterly", "month": 1, "workday": 10, "covers": "previous"}
    assert review["name_en"] == "Present the quarterly customer health review"
    assert _duty(data, head, kind="yearly")["due"] == {"kind": "yearly", "month": 1, "day": 15}
    report = _duty(data, csm, kind="monthly")  # "by the 3rd working day of each month"
    assert report["due"] == {"kind": "monthly", "workday": 3}
    assert _fields(report) == ["Usage", "Open issues", "Renewal risk"]
    assert _duty(data, csm, kind="weekly")["inferred"] is True  # every two weeks
    kickoff = [d for d in data["duties"] if d["role"] == onb and d["due"]["kind"] == "sla"]
    assert sorted(d["due"]["hours"] for d in kickoff) == [18, 720]  # 2 working days, 30 days
    assert _duty(data, onb, kind="weekly")["due"]["weekday"] == "mon"
