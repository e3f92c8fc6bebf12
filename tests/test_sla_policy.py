"""The policy side of clocks that start in chat: `[[triggers]]` (what a team member writes
before the colon), SLA duties naming them, errors by field path, SLA hours counted in
calendar or working hours, and which message logs which trigger."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.policy import PolicyError, load_policy
from bot.domain.schedule import sla_due
from bot.domain.sla import choose_owner, match_trigger
from bot.domain.workcalendar import WorkCalendar
from tests.test_policy import BASE, write

SH = ZoneInfo("Asia/Shanghai")
SLA_DUTY = """
[[duties]]
key = "staff.reply"
role = "staff"
name_zh = "回复咨询"
name_en = "Reply"
clause = "24小时内回复"

[duties.due]
kind = "sla"
hours = 24
trigger = "question"
"""
TRIGGER = """
[[triggers]]
key = "question"
name_zh = "用户咨询"
name_en = "User question"
words_zh = ["咨询"]
words_en = ["question"]
"""


def errors(tmp_path, text: str) -> list[str]:
    with pytest.raises(PolicyError) as e:
        load_policy(write(tmp_path, text))
    return e.value.errors


def test_the_shipped_policy_starts_question_and_complaint_duties():
    policy = load_policy()
    assert list(policy.triggers) == ["question", "complaint"]
    assert [d.key for d in policy.duties_for_trigger("question")] == ["brand.reply_questions"]
    assert [d.key for d in policy.duties_for_trigger("complaint")] == ["crm.complaint_followup"]
    assert policy.duty("crm.complaint_followup").due.hours == 24
    assert policy.duty("brand.negative_handover").due.trigger is None  # logging is the hand-over


def test_a_trigger_and_its_duty_load(tmp_path):
    policy = load_policy(write(tmp_path, BASE + TRIGGER + SLA_DUTY))
    assert policy.triggers["question"].words == ("咨询", "question")
    assert policy.duty("staff.reply").due.to_json() == {
        "kind": "sla",
        "hours": 24,
        "trigger": "question",
    }


def test_trigger_errors_name_their_field(tmp_path):
    assert errors(tmp_path, BASE + SLA_DUTY) == [
        "duties[1].due.trigger (duty staff.reply): unknown trigger 'question' "
        "(declare it in a [[triggers]] table)"
    ]
    typo = SLA_DUTY.replace('trigger = "question"', 'trigger = "questoin"')
    assert errors(tmp_path, BASE + TRIGGER + typo) == [
        "duties[1].due.trigger (duty staff.reply): unknown trigger 'questoin' "
        "(expected one of question)"
    ]
    twice = TRIGGER + TRIGGER.replace('key = "question"', 'key = "other"')
    assert errors(tmp_path, BASE + twice + SLA_DUTY) == [
        "triggers[1].words_zh[0] (trigger other): word '咨询' is also at triggers[0].words_zh[0]",
        "triggers[1].words_en[0] (trigger other): word 'question' is also at triggers[0].words_en[0]",
    ]
    colon = TRIGGER.replace('["咨询"]', '["咨询："]')
    assert errors(tmp_path, BASE + colon + SLA_DUTY)[0].startswith(
        "triggers[0].words_zh[0] (trigger question): '咨询：': write the word without the colon"
    )
    no_words = TRIGGER.replace('words_zh = ["咨询"]\nwords_en = ["question"]\n', "")
    assert errors(tmp_path, BASE + no_words + SLA_DUTY)[0].startswith(
        "triggers[0] (trigger question): give at least one word"
    )
    unit = SLA_DUTY.replace("hours = 24", 'hours = 24\nunit = "business"')
    assert errors(tmp_path, BASE + TRIGGER + unit)[0].startswith(
        "duties[1].due.unit (duty staff.reply): unknown unit 'business'"
    )


def test_which_message_logs_which_trigger():
    policy = load_policy()
    cases = {
        "咨询：保质期多久？": ("question", "保质期多久？", "zh"),
        "  投诉 : 快递太慢": ("complaint", "快递太慢", "zh"),
        "用户投诉：盒子破了": ("complaint", "盒子破了", "zh"),
        "Question: how long?": ("question", "how long?", "en"),
        "ＣＯＭＰＬＡＩＮＴ：broken": ("complaint", "broken", "en"),  # full-width letters
        "咨询：": ("question", "", "zh"),
    }
    for text, (key, body, lang) in cases.items():
        hit = match_trigger(policy, text)
        assert hit is not None and (hit.trigger.key, hit.text, hit.lang) == (key, body, lang)
    for text in ("咨询一下待办", "questions: x", "我想投诉：", "待办"):
        assert match_trigger(policy, text) is None, text


def test_sla_hours_in_calendar_or_working_hours():
    policy = load_policy()
    rule = policy.duty("brand.reply_questions").due
    friday_5pm = datetime(2026, 11, 27, 17, 0, tzinfo=SH)
    assert sla_due(rule, friday_5pm) == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # Sat 17:00
    working = type(rule)(**{**rule.__dict__, "hours": 4, "unit": "working"})
    hours = (time(9, 30), time(18, 30))
    due = sla_due(working, friday_5pm, SH, WorkCalendar(), hours)
    assert due == datetime(2026, 11, 30, 12, 0, tzinfo=SH)  # 1.5 h Fri + 2.5 h Mon
    evening = datetime(2026, 9, 30, 20, 0, tzinfo=SH)  # before National Day
    # 10-01..10-07 are off; the first working hours are on Thursday 10-08
    assert sla_due(working, evening, SH, WorkCalendar(), hours) == datetime(
        2026, 10, 8, 13, 30, tzinfo=SH
    )
    assert working.describe("zh") == "4个工作小时内"
    assert working.describe("en") == "within 4 working hours"


def test_who_owns_the_task():
    duty = load_policy().duty("crm.complaint_followup")
    holders = [("ou_b", "乙", 3, False), ("ou_a", "甲", 1, False), ("ou_c", "丙", 1, False)]
    assert choose_owner(duty, "ou_x", "crm", holders) == "ou_x"  # the logger holds the role
    assert choose_owner(duty, "ou_x", "brand", holders) == "ou_c"  # fewest open, then name
    away = [("ou_a", "甲", 0, True), ("ou_b", "乙", 5, False)]
    assert choose_owner(duty, "ou_x", "brand", away) == "ou_b"  # not the one on leave
    assert choose_owner(duty, "ou_x", "brand", away[:1]) == "ou_a"  # unless all are
    assert choose_owner(duty, "ou_x", "brand", []) is None
