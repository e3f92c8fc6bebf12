"""Report logic without I/O: typed values, validation, the `field: value` parser, KPI results,
matching a phrase to a duty, and the report cards' safety and size."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import pytest

from bot.domain.policy import load_policy
from bot.domain.reports import (
    display_value,
    duty_match_score,
    evaluate_kpis,
    form_default,
    format_errors,
    names_something,
    parse_text_submission,
    parse_value,
    strip_command,
    validate_values,
)
from cards.elements import card_size
from cards.report_cards import (
    FieldRow,
    KpiRow,
    ReportView,
    build_report_card,
    format_duration,
    kpi_line,
)
from cards.report_form import FormField, FormView, build_report_form
from cards.schema import mentions_all, validate_card
from tests.conftest import SHANGHAI

POLICY = load_policy()
WEEKLY = POLICY.duty("manager.weekly_progress")
EXECUTION = POLICY.duty("planner.execution_report")
PLAN = POLICY.duty("planner.activity_plan")
SPEND = POLICY.duty("manager.spend_review")
TRAINING = POLICY.duty("director.team_training")
TODAY = date(2026, 11, 26)


def field(duty, key):
    return duty.report.field(key)


def ok(duty, key, raw, **kw):
    return parse_value(field(duty, key), raw, today=TODAY, **kw)


def bad(duty, key, raw) -> str:
    values, errors = validate_values(duty.report, {key: raw}, today=TODAY)
    (err,) = [e for e in errors if e.key == key]
    return err.zh + " | " + err.en


# -- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,expected",
    [("85", 0.85), ("85%", 0.85), ("８５％", 0.85), (" 85 % ", 0.85), ("0", 0.0), ("100", 1.0)],
)
def test_percent_is_typed_in_points_and_stored_as_a_fraction(raw, expected):
    assert ok(WEEKLY, "completion_rate", raw) == pytest.approx(expected)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("12000", 12000),
        ("12,000", 12000),
        ("¥12,000", 12000),
        ("12000元", 12000),
        ("1.2万", 12000),
        ("RMB 500", 500),
        ("99.5", 99.5),
    ],
)
def test_money_accepts_common_ways_of_writing_it(raw, expected):
    value = ok(EXECUTION, "deal_amount", raw)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("raw,expected", [("120", 120), ("120人", 120), ("1,200", 1200), (7, 7)])
def test_integers(raw, expected):
    assert ok(EXECUTION, "attendees", raw) == expected


@pytest.mark.parametrize(
    "key,raw,words",
    [
        ("attendees", "1.5", ("实际参与人数", "整数", "whole number")),
        ("attendees", "很多", ("实际参与人数", "Attendees")),
        ("attendees", "-3", ("不能小于 0", "at least 0")),
        ("expected_attendees", "0", ("不能小于 1",)),
        ("deal_amount", "12 thousand", ("现场成交", "金额")),
        ("attendees", "12 apples", ("实际参与人数",)),
    ],
)
def test_number_errors_name_the_field(key, raw, words):
    message = bad(EXECUTION, key, raw)
    for word in words:
        assert word in message


def test_percent_limits_are_shown_in_percent_points():
    message = bad(WEEKLY, "completion_rate", "120")
    assert "完成率" in message and "0% 到 100%" in message and "between 0% and 100%" in message


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("2026-11-27", "2026-11-27"),
        ("2026/11/27", "2026-11-27"),
        ("2026.11.7", "2026-11-07"),
        ("2026年11月27日", "2026-11-27"),
        ("11月27日", "2026-11-27"),
        ("11-27", "2026-11-27"),
        ("2024-04-01 +0800", "2024-04-01"),  # the date picker's format
    ],
)
def test_dates(raw, expected):
    assert ok(TRAINING, "training_date", raw) == expected


def test_impossible_date_is_an_error():
    assert "培训日期" in bad(TRAINING, "training_date", "2026-02-30")
    assert "培训日期" in bad(TRAINING, "training_date", "next friday")


def test_choices_by_key_or_label_in_either_language():
    assert ok(PLAN, "format", "offline") == "offline"
    assert ok(PLAN, "format", "线上") == "online"
    assert ok(PLAN, "format", "Online + offline") == "hybrid"
    message = bad(PLAN, "format", "virtual")
    assert "线下、线上、线上+线下" in message and "Offline, Online" in message


def test_person_is_an_open_id_a_resolved_name_or_the_name_as_typed():
    f = field(SPEND, "finance_reviewer")
    people = {"王财务": "ou_finance"}.get
    assert parse_value(f, "ou_abc123", people=people) == "ou_abc123"
    assert parse_value(f, "@王财务", people=people) == "ou_finance"
    assert parse_value(f, "赵会计", people=people) == "赵会计"


def test_text_length_limits():
    assert "最多 100 个字" in bad(PLAN, "theme", "x" * 101)
    big = "很长" * 20_000  # a 40 KB long text is accepted
    assert ok(WEEKLY, "risks", big) == big
    assert "最多 50,000" in bad(WEEKLY, "risks", "x" * 50_001)


def test_control_characters_are_dropped_and_empty_means_missing():
    assert ok(WEEKLY, "risks", "a\x00b\r\nc") == "ab\nc"
    assert ok(WEEKLY, "risks", "   ") is None


def test_forged_form_values_of_the_wrong_shape_are_errors_not_crashes():
    for raw in (["85"], {"x": 1}, True):
        assert "完成率" in bad(WEEKLY, "completion_rate", raw)


def test_validate_checks_every_field_in_template_order():
    values, errors = validate_values(
        WEEKLY.report, {"completion_rate": "abc", "support_needed": "ok", "extra": "ignored"}
    )
    assert [e.key for e in errors] == ["completion_rate", "risks"]
    assert "「风险点」是必填项" in errors[1].zh and '"Risks" is required' in errors[1].en
    assert values == {"support_needed": "ok"}
    text = format_errors(errors, "en")
    assert "Completion rate" in text and "Risks" in text


def test_validate_keeps_previous_values_for_fields_left_empty():
    values, errors = validate_values(
        WEEKLY.report,
        {"completion_rate": "90"},
        keep={"risks": "old risks", "completion_rate": 0.5},
    )
    assert errors == [] and values == {"completion_rate": 0.9, "risks": "old risks"}


def test_display_and_form_default_round_trip():
    rate = field(WEEKLY, "completion_rate")
    assert display_value(rate, 0.855, "zh") == "85.5%"
    assert form_default(rate, 0.85) == "85"
    assert ok(WEEKLY, "completion_rate", form_default(rate, 0.855)) == pytest.approx(0.855)
    money = field(EXECUTION, "deal_amount")
    assert display_value(money, 12000, "zh") == "12,000 元"
    assert display_value(field(PLAN, "format"), "online", "en") == "Online"


# -- the text submission ---------------------------------------------------------------------


def test_text_parser_reads_chinese_and_english_labels_and_keys():
    sub = parse_text_submission(
        "提交周报\n完成率：85%\nRisks: 物料延迟\n  继续一行\nsupport_needed: 设计支持",
        WEEKLY.report,
    )
    assert sub.command == "提交周报" and sub.errors == []
    assert sub.raw == {
        "completion_rate": "85%",
        "risks": "物料延迟\n  继续一行",
        "support_needed": "设计支持",
    }


def test_text_parser_knows_labels_with_colons_and_parentheses():
    sub = parse_text_submission(
        "提交执行报告\n其中：扫码关注数: 3\n表单填写数：4\n现场成交: 5\nof which: QR-code follows: 6",
        EXECUTION.report,
    )
    assert sub.raw["form_fills"] == "4" and sub.raw["deal_amount"] == "5"
    assert sub.raw["qr_follows"] == "6"
    assert [e.zh for e in sub.errors] == ["「其中：扫码关注数」写了两次"]


def test_text_parser_reports_unknown_fields_and_stray_lines():
    sub = parse_text_submission("提交周报\n心情: 很好\n完成率: 80\n随便说点什么", WEEKLY.report)
    messages = [e.zh for e in sub.errors]
    assert "没有叫「心情」的字段" in messages
    assert any("第 4 行无法识别" in m for m in messages)


def test_text_parser_keeps_urls_with_colons_in_long_text():
    sub = parse_text_submission("提交周报\n风险点: 见\nhttps://example.com/a", WEEKLY.report)
    assert sub.errors == [] and sub.raw["risks"] == "见\nhttps://example.com/a"


# -- KPIs ------------------------------------------------------------------------------------


def test_kpi_results_follow_the_contract():
    (kpi,) = evaluate_kpis(EXECUTION.report, {"attendees": 76, "expected_attendees": 100})
    assert kpi == {
        "key": "attendance",
        "label_zh": "到场率",
        "label_en": "Attendance",
        "value": 0.76,
        "display": "76%",
        "op": ">=",
        "threshold": 0.8,
        "threshold_display": "80%",
        "ok": False,
    }
    (kpi,) = evaluate_kpis(EXECUTION.report, {"attendees": 80, "expected_attendees": 100})
    assert kpi["ok"] is True
    (kpi,) = evaluate_kpis(EXECUTION.report, {"attendees": 80, "expected_attendees": 0})
    assert kpi["value"] is None and kpi["ok"] is None and kpi["display"] == "—"
    (kpi,) = evaluate_kpis(SPEND.report, {"budget": 10000, "actual_spend": 9600})
    assert kpi["ok"] is False and kpi["display"] == "96%" and kpi["op"] == "<="
    json.dumps(kpi)  # stored as JSON


def test_kpi_lines_mark_pass_and_miss():
    def row(ok, op=">="):
        return KpiRow("到场率", "76%", op, "80%", ok)

    assert kpi_line(row(False), "zh") == "❌ 到场率 76% < 80%"
    assert kpi_line(row(True), "zh") == "✅ 到场率 76% ≥ 80%"
    assert kpi_line(row(False, "<="), "zh") == "❌ 到场率 76% > 80%"
    assert "⚪" in kpi_line(row(None), "zh")


# -- which duty --------------------------------------------------------------------------------


def test_phrases_name_duties():
    assert strip_command("提交执行报告") == "执行报告"
    assert strip_command("我要提交周报！") == "周报"
    assert not names_something(strip_command("提交我的报告"))
    weekly = duty_match_score("周报", WEEKLY)
    assert weekly > 0 and duty_match_score("周报", EXECUTION) == 0
    assert duty_match_score("执行报告", EXECUTION) > duty_match_score("执行报告", WEEKLY)
    assert duty_match_score("submit weekly report", WEEKLY) > 0
    assert duty_match_score("submit weekly report", EXECUTION) == 0
    assert duty_match_score("execution", EXECUTION) > 0
    assert duty_match_score("报告", EXECUTION) == 0  # names nothing in particular
    assert duty_match_score("", WEEKLY) == 0
    assert not names_something("报告") and not names_something("submit a report")
    assert names_something("周报") and names_something("submit weekly report")


@pytest.mark.parametrize(
    "text,intent",
    [
        ("提交周报", "report.submit"),
        ("我要提交执行报告", "report.submit"),
        ("提交周报\n完成率: 85%", "report.submit"),
        ("Submit weekly report", "report.submit"),
        ("submit my report", "report.submit"),
        ("待审批", "report.pending"),
        ("有什么待我审批的？", "report.pending"),
        ("pending approvals", "report.pending"),
        ("我的报告", "report.mine"),
        ("my reports", "report.mine"),
        ("待办", "due"),  # the "what's due" words are not taken
        ("我的任务", "due"),
        ("what's due", "due"),
        ("本周", "due"),
        ("whoami", "whoami"),
    ],
)
def test_report_intents_do_not_steal_whats_due(text, intent):
    from bot.app import build_router

    assert build_router().match(text).name == intent


# -- cards -----------------------------------------------------------------------------------

INJECTION = "<at id=all></at> [x](https://evil.example) **✅ Approved** <font color='red'>!</font>"


def report_view(**kw) -> ReportView:
    now = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    base = dict(
        report_id=1,
        task_id=2,
        version=1,
        status="submitted",
        duty_name="项目进度周报",
        period="2026-W48",
        author_name=INJECTION,
        author_role="市场经理",
        approver_name="周总监",
        approver_label="",
        due_at=now + timedelta(days=1),
        submitted_at=now,
        late=False,
        now=now,
        fields=(
            FieldRow("risks", "风险点", INJECTION),
            FieldRow("completion_rate", "完成率", "85%"),
        ),
        kpis=(KpiRow(INJECTION, "76%", ">=", "80%", False),),
        comment=INJECTION,
    )
    base.update(kw)
    return ReportView(**base)


def markdown_texts(card):
    out = []

    def visit(node):
        if isinstance(node, dict):
            if node.get("tag") in ("markdown", "lark_md"):
                out.append(node["content"])
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(card)
    return out


@pytest.mark.parametrize("status", ["submitted", "approved", "rejected"])
@pytest.mark.parametrize("audience", ["approver", "author"])
def test_report_cards_never_interpret_report_text(status, audience):
    view = report_view(status=status, decided_by_name=INJECTION, decided_at=report_view().now)
    card = build_report_card(view, "zh", audience=audience)
    assert validate_card(card) == []
    for text in markdown_texts(card):
        assert not mentions_all(text)
        assert not re.search(r"(?<!\\)\]\(", text)  # no live link: "[x](…)" is escaped
        assert not re.search(r"(?<!\\)\*\*✅", text) and "<font color='red'>!" not in text
    shown = json.dumps(card, ensure_ascii=False)
    assert INJECTION.replace("<", "＜") in shown  # shown, as plain text, with no live tag
    assert "<at" not in shown


def test_huge_fields_are_cut_to_fit_with_full_text_buttons():
    rows = tuple(FieldRow(f"f{i}", f"字段{i}", "长" * 15_000) for i in range(6))
    card = build_report_card(report_view(fields=rows), "en")
    assert validate_card(card) == [] and card_size(card) <= 24 * 1024
    fulls = [
        b["behaviors"][0]["value"]
        for b in _walk(card)
        if b.get("tag") == "button" and b["behaviors"][0]["value"]["a"] == "report.full"
    ]
    assert [v["f"] for v in fulls] == [f"f{i}" for i in range(6)]
    assert any(n.get("tag") == "form" for n in _walk(card))  # the decision survives


def test_form_has_one_named_input_per_field():
    now = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    fields = tuple(
        FormField(
            key=f.key,
            type=f.type,
            label=f.label_zh,
            required=f.required,
            unit=f.unit,
            default="草稿" if f.type == "longtext" else None,
            choices=tuple((c.key, c.label_zh) for c in f.choices),
        )
        for f in PLAN.report.fields
    )
    view = FormView(1, "活动方案", "双十一", now, now, fields, version=2, card_uuid="rabc")
    card = build_report_form(view, "zh")
    assert validate_card(card) == []
    names = [n["name"] for n in _walk(card) if n.get("tag") in ("input", "select_static")]
    assert names == [f.key for f in PLAN.report.fields]
    options = next(n for n in _walk(card) if n.get("tag") == "select_static")["options"]
    assert [o["value"] for o in options] == ["offline", "online", "hybrid"]
    submit = next(n for n in _walk(card) if n.get("name") == "report_submit")
    value = submit["behaviors"][0]["value"]
    assert submit["form_action_type"] == "submit" and value["c"] == "rabc" and "k" not in value
    # "ver": the version this form creates, so a double click stores one version
    assert value == {"a": "report.submit", "v": 1, "t": 1, "l": "zh", "c": "rabc", "ver": 2}


def test_form_fits_with_huge_defaults_by_keeping_what_does_not_fit():
    now = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    fields = tuple(
        FormField(key=f"f{i}", type="longtext", label=f"字段{i}", required=True, default="长" * 990)
        for i in range(12)
    ) + (FormField(key="huge", type="longtext", label="超长", default="长" * 5000),)
    card = build_report_form(FormView(1, "x", "", now, now, fields, version=2), "zh")
    assert validate_card(card) == [] and card_size(card) <= 24 * 1024
    submit = next(n for n in _walk(card) if n.get("name") == "report_submit")
    kept = submit["behaviors"][0]["value"]["k"]
    assert "huge" in kept and len(kept) >= 4  # longer than an input can hold, or over budget
    for n in _walk(card):
        if n.get("name") in kept:
            assert "default_value" not in n and n["required"] is False
            assert "留空则保留原内容" in n["placeholder"]["content"]
        elif n.get("tag") == "input":
            assert n["default_value"] == "长" * 990


def test_durations():
    assert format_duration(timedelta(days=2, hours=3, minutes=5), "zh") == "2 天 3 小时"
    assert format_duration(timedelta(hours=3), "en") == "3 h 0 min"
    assert format_duration(timedelta(minutes=-5), "zh") == "0 分钟"


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
