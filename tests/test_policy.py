"""The policy file: the shipped marketing policy, and error reporting for broken ones."""

import json
from datetime import time

import pytest

from bot.domain.policy import (
    FIELD_TYPES,
    NUMERIC_TYPES,
    Duty,
    PolicyError,
    load_policy,
    parse_policy,
)


@pytest.fixture(scope="module")
def policy():
    return load_policy()


# -- the shipped policy -----------------------------------------------------------------

ROLES = {
    "director": ("市场总监", "Marketing Director", None),
    "manager": ("市场经理", "Marketing Manager", "director"),
    "planner": ("市场策划专员", "Marketing Planning Specialist", "manager"),
    "brand": ("品牌运营专员", "Brand Operations Specialist", "manager"),
    "digital": ("数字营销专员", "Digital Marketing Specialist", "manager"),
    "research": ("市场调研专员", "Market Research Specialist", "manager"),
    "crm": ("客户关系专员", "Customer Relations Specialist", "manager"),
}

# key -> (due kind, has a report); every row of POLICY.md's two tables
STATED = {
    "director.strategy_plan": ("yearly", True),
    "director.budget_allocation": ("yearly", True),
    "director.team_training": ("quarterly", True),
    "director.strategy_review": ("monthly", True),
    "manager.execution_plan": ("monthly", True),
    "manager.plan_approval": ("activity", False),
    "manager.weekly_progress": ("weekly", True),
    "manager.spend_review": ("activity", True),
    "manager.retrospective": ("activity", True),
    "planner.activity_plan": ("activity", True),
    "planner.preparation": ("activity", False),
    "planner.execution_report": ("activity", True),
    "brand.compliance_check": ("monthly", True),
    "brand.content_plan": ("monthly", True),
    "brand.content_publishing": ("weekdays", False),
    "brand.reply_questions": ("sla", False),
    "brand.negative_handover": ("sla", False),
    "brand.faq": ("monthly", False),
    "brand.monthly_report": ("monthly", True),
}
INFERRED = {
    "digital.promotion_plan": ("activity", True),
    "digital.traffic_report": ("activity", True),
    "digital.channel_report": ("monthly", True),
    "research.market_report": ("monthly", True),
    "research.audience_research": ("activity", True),
    "crm.complaint_followup": ("sla", False),
    "crm.feedback_summary": ("monthly", True),
}


def test_shipped_policy_loads_with_seven_roles(policy):
    assert policy.timezone == "Asia/Shanghai"
    assert policy.default_due_time == time(18, 0)
    assert policy.rejection_redo_workdays == 2
    assert list(policy.roles) == list(ROLES)
    for key, (zh, en, parent) in ROLES.items():
        role = policy.role(key)
        assert (role.name_zh, role.name_en, role.reports_to) == (zh, en, parent)
        assert role.name("zh") == zh and role.name("en") == en
    assert "管理层" in policy.role("director").reports_to_label
    with pytest.raises(KeyError):
        policy.role("designer")


def test_every_duty_of_policy_md_is_there(policy):
    expected = {**STATED, **INFERRED}
    assert set(policy.duties) == set(expected)
    for key, (kind, has_report) in expected.items():
        duty = policy.duty(key)
        assert duty.due.kind == kind, key
        assert duty.has_report == has_report, key
        assert duty.role == key.split(".")[0], key
        assert duty.clause, key
        assert duty.inferred == (key in INFERRED), key
    counts = {r: len(policy.duties_for_role(r)) for r in ROLES}
    assert counts == {
        "director": 4,
        "manager": 5,
        "planner": 3,
        "brand": 7,
        "digital": 3,
        "research": 2,
        "crm": 2,
    }


def test_clauses_quote_the_source(policy):
    assert policy.duty("manager.weekly_progress").clause.startswith("一(二)3 过程监控")
    assert "完成率、风险点、需支持事项" in policy.duty("manager.weekly_progress").clause
    assert "3个工作日内" in policy.duty("planner.execution_report").clause
    assert "每月5日前" in policy.duty("brand.monthly_report").clause
    for key in INFERRED:
        assert "推断" in policy.duty(key).clause, key


def test_report_templates_are_typed_and_kpis_reference_number_fields(policy):
    for duty in policy.duties.values():
        if duty.report is None:
            continue
        assert duty.report.fields, duty.key
        keys = [f.key for f in duty.report.fields]
        assert len(keys) == len(set(keys)), duty.key
        assert any(f.required for f in duty.report.fields), duty.key
        for f in duty.report.fields:
            assert f.type in FIELD_TYPES
            assert f.label_zh and f.label_en
            if f.type == "choice":
                assert f.choices
        for k in duty.report.kpis:
            assert duty.report.field(k.numerator).type in NUMERIC_TYPES
            if k.denominator:
                assert duty.report.field(k.denominator).type in NUMERIC_TYPES


def test_named_report_fields(policy):
    def fields(key):
        return {f.key: f for f in policy.duty(key).report.fields}

    weekly = fields("manager.weekly_progress")
    assert weekly["completion_rate"].type == "percent"
    assert weekly["risks"].type == "longtext" and weekly["support_needed"].type == "longtext"
    plan = fields("planner.activity_plan")
    for k in (
        "theme",
        "format",
        "time_place",
        "channels",
        "materials",
        "staffing",
        "budget",
        "risk_plan",
    ):
        assert k in plan, k
    assert plan["budget"].type == "money"
    assert {c.key for c in plan["format"].choices} >= {"online", "offline"}
    assert plan["format"].choice("online").label("zh") == "线上"
    report = fields("planner.execution_report")
    for k in ("expected_attendees", "attendees", "leads", "deal_amount", "highlights", "problems"):
        assert k in report, k
    retro = fields("manager.retrospective")
    for k in ("kpi_results", "lessons", "improvements"):
        assert k in retro, k


def test_kpis_from_the_source(policy):
    [att] = policy.duty("planner.execution_report").report.kpis
    assert (att.numerator, att.denominator, att.op, att.threshold) == (
        "attendees",
        "expected_attendees",
        ">=",
        0.8,
    )
    assert att.evaluate({"attendees": 80, "expected_attendees": 100}).ok is True
    miss = att.evaluate({"attendees": 79, "expected_attendees": 100})
    assert miss.ok is False and miss.format_value() == "79%"
    assert att.evaluate({"attendees": 79}).ok is None
    assert att.evaluate({"attendees": 5, "expected_attendees": 0}).value is None
    assert att.describe("zh") == "到场率 ≥ 80%"

    [spend] = policy.duty("manager.spend_review").report.kpis
    assert (spend.numerator, spend.denominator, spend.op, spend.threshold) == (
        "actual_spend",
        "budget",
        "<=",
        0.95,
    )
    assert spend.evaluate({"actual_spend": 95000, "budget": 100000}).ok is True
    assert spend.evaluate({"actual_spend": "96000", "budget": 100000}).ok is False
    assert spend.describe("en") == "Actual spend / budget ≤ 95%"


def test_approvers(policy):
    def approver(key):
        return policy.approver_role_for(policy.duty(key))

    assert approver("planner.execution_report") == "manager"
    assert approver("brand.monthly_report") == "manager"
    assert approver("digital.traffic_report") == "manager"
    assert approver("manager.weekly_progress") == "director"
    assert approver("manager.retrospective") == "director"
    assert approver("director.strategy_plan") is None
    assert policy.duty("director.strategy_plan").approver_role == ""
    assert policy.approver_is_external(policy.duty("director.strategy_plan"))
    assert policy.approver_label(policy.duty("director.strategy_plan"), "zh").startswith("管理层")
    assert approver("brand.content_publishing") is None  # no report
    assert not policy.approver_is_external(policy.duty("brand.content_publishing"))
    assert policy.approver_label(policy.duty("planner.activity_plan"), "en") == "Marketing Manager"


def test_due_rules_of_the_source(policy):
    weekly = policy.duty("manager.weekly_progress").due
    assert (weekly.weekday, weekly.time, weekly.adjust) == (4, time(18, 0), "previous_workday")
    monthly = policy.duty("brand.monthly_report").due
    assert (monthly.before_day, monthly.covers) == (5, "previous")
    pub = policy.duty("brand.content_publishing").due
    assert (pub.days, pub.adjust) == ((1, 3, 5), "none")
    report = policy.duty("planner.execution_report").due
    assert (report.anchor, report.offset, report.unit) == ("end", 3, "working")
    retro = policy.duty("manager.retrospective").due
    assert (retro.anchor, retro.offset, retro.unit) == ("end", 7, "working")
    plan = policy.duty("planner.activity_plan").due
    assert (plan.anchor, plan.offset, plan.unit, plan.adjust) == (
        "start",
        -30,
        "calendar",
        "previous_workday",
    )
    assert policy.duty("planner.preparation").due.offset == -15
    assert policy.duty("research.audience_research").due.offset == -35
    assert policy.duty("brand.reply_questions").due.hours == 24


def test_describe(policy):
    def both(key):
        rule = policy.duty(key).due
        return rule.describe("zh"), rule.describe("en")

    assert both("manager.weekly_progress") == ("每周五 18:00", "every Friday 18:00")
    assert both("brand.monthly_report") == ("每月5日前", "before the 5th of each month")
    assert both("planner.activity_plan") == ("活动开始前30天", "30 days before the activity starts")
    assert both("planner.execution_report") == (
        "活动结束后3个工作日内",
        "within 3 working days after the activity ends",
    )
    assert both("brand.reply_questions") == ("24小时内", "within 24 hours")
    assert both("brand.content_publishing") == ("每周二、四、六", "every Tue, Thu, Sat")
    assert both("brand.content_plan") == ("每月开始前", "before each month starts")
    assert both("director.strategy_plan") == ("每年开始前", "before each year starts")
    assert both("director.team_training") == ("每季度最后一天", "on the last day of each quarter")
    assert both("brand.faq") == ("每月最后一天", "on the last day of each month")


def test_periodic_duties(policy):
    periodic = policy.periodic_duties()
    assert {d.due.kind for d in periodic} == {
        "weekly",
        "monthly",
        "quarterly",
        "yearly",
        "weekdays",
    }
    assert "manager.weekly_progress" in {d.key for d in periodic}
    assert not {d.key for d in periodic} & {d.key for d in policy.activity_duties()}
    assert {d.key for d in policy.sla_duties()} == {
        "brand.reply_questions",
        "brand.negative_handover",
        "crm.complaint_followup",
    }
    # file order is kept
    keys = list(policy.duties)
    assert keys[0] == "director.strategy_plan" and keys[-1] == "crm.feedback_summary"


def test_reminder_ladder(policy):
    steps = policy.reminders
    assert [s.offset for s in steps] == [-1, 0, 1, 3]
    assert steps[0].who == ("assignee",)
    assert "manager-of-assignee" in steps[2].who
    assert "director" in steps[3].who
    assert policy.working_hours == (time(9, 30), time(18, 30))


def test_duty_json_snapshot_round_trips(policy):
    for duty in policy.duties.values():
        snap = json.loads(json.dumps(duty.to_json(), ensure_ascii=False))
        assert Duty.from_json(snap) == duty, duty.key
    snap = policy.duty("manager.weekly_progress").to_json()
    assert snap["due"] == {
        "kind": "weekly",
        "weekday": "fri",
        "time": "18:00",
        "adjust": "previous_workday",
    }


# -- broken policies ---------------------------------------------------------------------

BASE = """
[policy]
name = "测试"
name_en = "Test"

[[roles]]
key = "boss"
name_zh = "老板"
name_en = "Boss"
reports_to = ""

[[roles]]
key = "staff"
name_zh = "员工"
name_en = "Staff"
reports_to = "boss"

[[duties]]
key = "staff.weekly"
role = "staff"
name_zh = "周报"
name_en = "Weekly report"
clause = "test"

[duties.due]
kind = "weekly"
weekday = "fri"

[[duties.report.fields]]
key = "done"
type = "integer"
label_zh = "完成"
label_en = "Done"
required = true

[[duties.report.fields]]
key = "planned"
type = "integer"
label_zh = "计划"
label_en = "Planned"

[[duties.report.kpis]]
key = "rate"
label_zh = "完成率"
label_en = "Rate"
numerator = "done"
denominator = "planned"
op = ">="
threshold = 0.8
"""


def write(tmp_path, text):
    p = tmp_path / "policy.toml"
    p.write_text(text, encoding="utf-8")
    return p


def errors_of(tmp_path, text) -> list[str]:
    with pytest.raises(PolicyError) as e:
        load_policy(write(tmp_path, text))
    assert e.value.errors
    return e.value.errors


def test_base_snippet_is_valid(tmp_path):
    p = load_policy(write(tmp_path, BASE))
    duty = p.duty("staff.weekly")
    assert p.approver_role_for(duty) == "boss"
    assert duty.due.time == time(18, 0)  # policy default
    assert duty.report.kpis[0].format == "percent"  # default with a denominator
    assert p.reminders == () and p.working_hours == (time(9, 30), time(18, 30))


def test_unknown_weekday(tmp_path):
    errors = errors_of(tmp_path, BASE.replace('weekday = "fri"', 'weekday = "fry"'))
    assert errors == [
        "duties[0].due.weekday (duty staff.weekly): unknown weekday 'fry' (expected one of mon, tue, wed, thu, fri, sat, sun)"
    ]


def test_unknown_role_in_a_duty(tmp_path):
    errors = errors_of(tmp_path, BASE.replace('role = "staff"', 'role = "designer"'))
    assert len(errors) == 1
    assert errors[0].startswith("duties[0].role (duty staff.weekly): unknown role 'designer'")


def test_unknown_reports_to(tmp_path):
    errors = errors_of(tmp_path, BASE.replace('reports_to = "boss"', 'reports_to = "x"'))
    assert len(errors) == 1
    assert errors[0].startswith("roles[1].reports_to (role staff): unknown role 'x'")


def test_cycle_in_reports_to(tmp_path):
    text = BASE.replace('reports_to = ""', 'reports_to = "staff"')
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1
    assert "cycle" in errors[0] and errors[0].startswith("roles[")
    assert "boss -> staff -> boss" in errors[0] or "staff -> boss -> staff" in errors[0]
    self_loop = BASE.replace('reports_to = ""', 'reports_to = "boss"')
    assert "cycle" in errors_of(tmp_path, self_loop)[0]


def test_duplicate_keys(tmp_path):
    dup_role = BASE.replace('key = "staff"\nname_zh = "员工"', 'key = "boss"\nname_zh = "员工"')
    errors = errors_of(tmp_path, dup_role)
    assert any(
        m.startswith("roles[1].key (role boss): duplicate role key 'boss'") for m in errors
    ), errors
    duty = BASE[BASE.index("[[duties]]") :]
    errors = errors_of(tmp_path, BASE + duty)
    assert any(
        m.startswith("duties[1].key (duty staff.weekly): duplicate duty key 'staff.weekly'")
        for m in errors
    ), errors
    dup_field = BASE.replace('key = "planned"', 'key = "done"')
    errors = errors_of(tmp_path, dup_field)
    assert any(
        m.startswith(
            "duties[0].report.fields[1].key (duty staff.weekly): duplicate field key 'done'"
        )
        for m in errors
    )


def test_kpi_naming_a_missing_or_text_field(tmp_path):
    errors = errors_of(tmp_path, BASE.replace('numerator = "done"', 'numerator = "dnoe"'))
    assert errors == [
        "duties[0].report.kpis[0].numerator (duty staff.weekly): unknown field 'dnoe' (fields: done, planned)"
    ]
    text = BASE.replace('type = "integer"\nlabel_zh = "计划"', 'type = "text"\nlabel_zh = "计划"')
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1 and errors[0].startswith(
        "duties[0].report.kpis[0].denominator (duty staff.weekly):"
    )


def test_toml_syntax_error_has_a_line_number(tmp_path):
    text = BASE.replace('weekday = "fri"', "weekday = fri")
    line = text.splitlines().index("weekday = fri") + 1
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1
    assert "policy.toml" in errors[0] and f"line {line}," in errors[0], errors


def test_several_errors_are_collected(tmp_path):
    text = (
        BASE.replace('weekday = "fri"', 'weekday = "fry"\ntime = "25:00"')
        .replace('role = "staff"', 'role = "designer"')
        .replace('op = ">="', 'op = "=>"')
        .replace('type = "integer"\nlabel_zh = "完成"', 'type = "float"\nlabel_zh = "完成"')
        .replace('reports_to = "boss"', 'reports_to = "x"')
        .replace('name_en = "Test"', 'name_en = "Test"\ntimezone = "Mars/Olympus"')
    )
    errors = errors_of(tmp_path, text)
    with pytest.raises(PolicyError) as e:
        load_policy(write(tmp_path, text))
    paths = [issue.path for issue in e.value.issues]
    for expected in (
        "policy.timezone",
        "roles[1].reports_to",
        "duties[0].role",
        "duties[0].due.weekday",
        "duties[0].due.time",
        "duties[0].report.fields[0].type",
        "duties[0].report.kpis[0].op",
    ):
        assert expected in paths, (expected, errors)
    assert len(errors) >= 7
    # the exception message lists them all
    with pytest.raises(PolicyError) as e:
        load_policy(write(tmp_path, text))
    assert "duties[0].due.weekday" in str(e.value) and "policy.timezone" in str(e.value)


def test_due_rule_shape_errors(tmp_path):
    monthly = 'kind = "monthly"\nday = 4\nbefore_day = 5'
    errors = errors_of(tmp_path, BASE.replace('kind = "weekly"\nweekday = "fri"', monthly))
    assert any(
        m.startswith("duties[0].due (duty staff.weekly): set exactly one of day, before_day")
        for m in errors
    )
    typo = BASE.replace('weekday = "fri"', 'weekday = "fri"\nweekdy = "fri"')
    errors = errors_of(tmp_path, typo)
    assert errors[0].startswith(
        "duties[0].due.weekdy (duty staff.weekly): not an option of kind 'weekly'"
    )
    bad_kind = BASE.replace('kind = "weekly"', 'kind = "fortnightly"')
    assert errors_of(tmp_path, bad_kind)[0].startswith(
        "duties[0].due.kind (duty staff.weekly): unknown kind 'fortnightly'"
    )
    activity = 'kind = "activity"\nanchor = "middle"\noffset = 3\nunit = "working"\nadjust = "next_workday"'
    errors = errors_of(tmp_path, BASE.replace('kind = "weekly"\nweekday = "fri"', activity))
    assert any(
        m.startswith("duties[0].due.anchor (duty staff.weekly): unknown anchor 'middle'")
        for m in errors
    )
    assert any(m.startswith("duties[0].due.adjust (duty staff.weekly):") for m in errors)
    day0 = 'kind = "monthly"\nday = 0'
    assert errors_of(tmp_path, BASE.replace('kind = "weekly"\nweekday = "fri"', day0))[
        0
    ].startswith("duties[0].due.day (duty staff.weekly):")
    sla = 'kind = "sla"\nhours = 24\ntime = "18:00"'
    errors = errors_of(tmp_path, BASE.replace('kind = "weekly"\nweekday = "fri"', sla))
    assert errors[0].startswith(
        "duties[0].due.time (duty staff.weekly): not an option of kind 'sla'"
    )


def test_approver_role_errors(tmp_path):
    unknown = BASE.replace('clause = "test"', 'clause = "test"\napprover_role = "ceo"')
    assert errors_of(tmp_path, unknown)[0].startswith(
        "duties[0].approver_role (duty staff.weekly): unknown role 'ceo'"
    )
    own = BASE.replace('clause = "test"', 'clause = "test"\napprover_role = "staff"')
    assert errors_of(tmp_path, own) == [
        "duties[0].approver_role (duty staff.weekly): a role cannot approve its own duty"
    ]
    no_report = BASE[: BASE.index("[[duties.report.fields]]")].replace(
        'clause = "test"', 'clause = "test"\napprover_role = "boss"'
    )
    errors = errors_of(tmp_path, no_report)
    assert errors == [
        "duties[0].approver_role (duty staff.weekly): set, but the duty has no [duties.report]"
    ]


def test_reminder_errors(tmp_path):
    text = BASE.replace(
        'name_en = "Test"',
        'name_en = "Test"\n[policy.reminders]\nworking_hours = { start = "18:30", end = "09:30" }\n'
        '[[policy.reminders.steps]]\nkey = "a"\noffset = 1\nwho = ["assignee", "intern"]\n'
        '[[policy.reminders.steps]]\nkey = "b"\noffset = 0\nwho = ["boss"]\n',
    )
    errors = errors_of(tmp_path, text)
    assert any(m.startswith("policy.reminders.working_hours.end:") for m in errors), errors
    assert any(
        m.startswith("policy.reminders.steps[0].who[1]: unknown recipient 'intern'") for m in errors
    )
    assert any(m.startswith("policy.reminders.steps:") and "order" in m for m in errors), errors


def test_parse_policy_and_missing_sections():
    with pytest.raises(PolicyError) as e:
        parse_policy({"policy": {"name": "x", "name_en": "x"}}, "mem")
    paths = [issue.path for issue in e.value.issues]
    assert paths == ["roles", "duties"]
    assert e.value.source == "mem"


def test_missing_file(tmp_path):
    with pytest.raises(PolicyError) as e:
        load_policy(tmp_path / "nope.toml")
    assert "nope.toml" in e.value.errors[0]


def test_wrong_types_and_unknown_keys_read_plainly(tmp_path):
    text = (
        BASE.replace("required = true", 'required = "yes"')
        .replace('name_en = "Boss"', 'name_en = "Boss"\ncolour = "red"')
        .replace("threshold = 0.8", 'threshold = "80%"')
        .replace('kind = "weekly"\nweekday = "fri"', 'kind = "weekly"')
    )
    errors = errors_of(tmp_path, text)
    assert (
        "roles[0].colour (role boss): unknown key (expected one of key, name_zh, name_en, reports_to, reports_to_label)"
        in errors
    )
    assert (
        "duties[0].due.weekday (duty staff.weekly): missing (required for kind 'weekly')" in errors
    )
    assert (
        "duties[0].report.fields[0].required (duty staff.weekly): expected true or false, got 'yes'"
        in errors
    )
    assert (
        "duties[0].report.kpis[0].threshold (duty staff.weekly): expected a number, got '80%'"
        in errors
    )
    assert len(errors) == 4, errors


def test_a_duty_that_is_not_a_table_and_choice_shorthand(tmp_path):
    with pytest.raises(PolicyError) as e:
        parse_policy({"policy": {"name": "x", "name_en": "x"}, "roles": "boss", "duties": [3]})
    assert e.value.errors == [
        "roles: expected an array of tables ([[roles]]), got str",
        "duties[0]: expected a table, got int",
    ]
    text = BASE.replace(
        'type = "integer"\nlabel_zh = "计划"',
        'type = "choice"\nchoices = ["a", "b"]\nlabel_zh = "计划"',
    )
    text = text[: text.index("[[duties.report.kpis]]")]
    field = load_policy(write(tmp_path, text)).duty("staff.weekly").report.field("planned")
    assert [c.key for c in field.choices] == ["a", "b"] and field.choice("a").label("en") == "a"
