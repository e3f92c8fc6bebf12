"""The scheduling cards as pure builders: valid Card JSON 2.0, within the size and element
budgets at their caps, untrusted text never live markup, and the task buttons' values."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from cards.activity_form import PersonOption, build_activity_form, build_activity_list_card
from cards.digest import DigestView, ItemLine, KpiMiss, Row, SupportItem, Tally, build_digest_card
from cards.due import build_due_card
from cards.elements import CARD_BUDGET_BYTES
from cards.reminder import OVERDUE, TODAY, UPCOMING, ReminderLine, ReminderView, build_reminder_card
from cards.schema import validate_card
from cards.task_card import ActivityView, TaskLine, build_plan_summary_card, build_task_card
from cards.views import DueView, MemberView, TaskView
from tests.sched_helpers import button_values

CST = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, tzinfo=CST)
EVIL = "<at id=all></at> [x](https://evil.example) **✅ Approved** <font color='red'>x</font>"


def md(card: dict) -> list[str]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("tag") in ("markdown", "lark_md") and isinstance(node.get("content"), str):
                out.append(node["content"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return out


def count_elements(card: dict) -> int:
    n = 0

    def walk(node):
        nonlocal n
        if isinstance(node, dict):
            if "tag" in node and node["tag"] not in ("plain_text", "lark_md", "text_tag"):
                n += 1
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card["body"])
    return n


def assert_safe(card: dict) -> None:
    assert validate_card(card) == []
    for text in md(card):
        assert "<at" not in text and "**✅" not in text and "<font color='red'>x" not in text
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= CARD_BUDGET_BYTES


def activity(title: str = "发布会") -> ActivityView:
    return ActivityView(7, title, "hybrid", date(2027, 3, 15), date(2027, 3, 16), EVIL, 50000, 200)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_cards_escape_untrusted_text_and_stay_in_budget(lang):
    lines = [
        TaskLine(
            i, EVIL * 3, NOW, action="report" if i % 2 else "done", clause=EVIL, assignee_name=EVIL
        )
        for i in range(1, 60)
    ]
    assert_safe(build_task_card(activity(EVIL), lines, lang, now=NOW))
    assert_safe(build_plan_summary_card(activity(EVIL), lines, lang, now=NOW))
    assert_safe(build_plan_summary_card(activity(EVIL), lines, lang, kind="cancelled", now=NOW))
    rem = [
        ReminderLine(
            i,
            EVIL * 3,
            NOW,
            (UPCOMING, TODAY, OVERDUE)[i % 3],
            i % 4,
            action="done",
            assignee_name=EVIL,
            activity_title=EVIL,
        )
        for i in range(1, 80)
    ]
    card = build_reminder_card(ReminderView(EVIL, NOW, tuple(rem), tuple(rem)), lang)
    assert_safe(card)
    assert count_elements(card) <= 200
    tally = Tally(3, 1, 2, 1, 0)
    digest = DigestView(
        "weekly",
        EVIL,
        NOW,
        tally,
        people=tuple(Row(EVIL, tally, EVIL) for _ in range(60)),
        roles=(Row(EVIL, tally, "3"),),
        overdue=tuple(ItemLine(EVIL, EVIL, NOW, i % 2 == 0, i) for i in range(40)),
        overdue_total=400,
        kpi_misses=tuple(KpiMiss(EVIL, EVIL, EVIL, EVIL, ">=", EVIL) for _ in range(20)),
        upcoming=tuple(ItemLine(EVIL, EVIL, NOW) for _ in range(20)),
        upcoming_total=20,
        support=tuple(SupportItem(EVIL, EVIL * 200) for _ in range(20)),
    )
    assert_safe(build_digest_card(digest, lang))
    form = build_activity_form(
        lang, nonce="n", people=[PersonOption("ou_a", EVIL)], today=NOW.date()
    )
    assert_safe(form)
    assert_safe(build_activity_list_card([(activity(EVIL), 9)] * 40, lang))


def test_due_card_task_buttons():
    member = MemberView("ou_alice", "Alice", "planner", "策划")

    def task(i, action, status="open"):
        return TaskView(i, f"d{i}", f"Duty {i}", NOW, "§", status, action=action)

    view = DueView(
        member,
        NOW,
        (
            task(1, "report"),
            task(2, "done"),
            task(3, "report", "rejected"),
            task(4, "report", "submitted"),  # waiting for approval: nothing to click
            task(5, ""),  # an unknown duty: no button
        ),
    )
    card = build_due_card(view, "en")
    assert validate_card(card) == []
    values = button_values(card)
    assert values[:3] == [
        {"a": "report.open", "v": 1, "t": 1},
        {"a": "task.done", "v": 1, "t": 2},
        {"a": "report.open", "v": 1, "t": 3},
    ]
    assert [v["a"] for v in values[3:]] == ["due.refresh"]
    assert "Resubmit" in json.dumps(card)
    many = DueView(member, NOW, tuple(task(i, "done") for i in range(1, 60)))
    big = build_due_card(many, "zh")
    assert validate_card(big) == [] and count_elements(big) <= 200
    assert len([v for v in button_values(big) if v["a"] == "task.done"]) == 30
