"""Who takes over the work of someone who left (pure rules), and the hand-off card at its
largest, in both languages, with hostile names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from bot.domain.handoff import (
    ADMIN,
    COVERED,
    MANAGER,
    NOBODY,
    SUCCESSOR,
    Leaver,
    OpenTask,
    plan_handoff,
)
from bot.domain.policy import load_policy
from bot.domain.roster import Roster, shown_name
from cards.actions import ReassignTask
from cards.handoff import HandoffRow, HandoffView, build_handoff_card
from cards.schema import CARD_MAX_BYTES, count_elements, validate_card

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=CST)
POLICY = load_policy(None)
EVIL = "<at id=all></at> **✅ Approved** [x](https://evil.example)"


@dataclass
class M:
    open_id: str
    name: str
    role_key: str
    manager_open_id: str | None = None
    is_admin: bool = False


def roster(*people: M) -> Roster:
    return Roster(POLICY, {p.open_id: p for p in people})


def brand_task(i: int = 1, period: str = "2026-11") -> OpenTask:
    return OpenTask(i, "brand.compliance_check", period, "brand")


LEAVER = Leaver("ou_gone", "陈品牌", "brand")
TEAM = (M("ou_dir", "周总监", "director", is_admin=True), M("ou_mgr", "李经理", "manager"))


def test_the_one_other_member_of_the_role_takes_over():
    team = roster(*TEAM, M("ou_b2", "郑品牌", "brand"))
    (move,) = plan_handoff(LEAVER, [brand_task()], team, set())
    assert (move.to, move.kind) == ("ou_b2", SUCCESSOR)


def test_with_two_or_no_others_in_the_role_the_manager_reassigns():
    two = roster(*TEAM, M("ou_b2", "郑品牌", "brand"), M("ou_b3", "冯品牌", "brand"))
    none = roster(*TEAM)
    for team in (two, none):
        (move,) = plan_handoff(LEAVER, [brand_task()], team, set())
        assert (move.to, move.kind) == ("ou_mgr", MANAGER)


def test_the_team_files_manager_comes_first_then_an_admin_then_nobody():
    leaver = Leaver("ou_gone", "陈品牌", "brand", manager_open_id="ou_dir")
    (move,) = plan_handoff(leaver, [brand_task()], roster(*TEAM), set())
    assert (move.to, move.kind) == ("ou_dir", MANAGER)
    director = Leaver("ou_gone", "老总监", "director")  # reports to nobody in the department
    review = OpenTask(1, "director.strategy_review", "p", "director")
    admin = M("ou_mgr", "李经理", "manager", is_admin=True)
    (move,) = plan_handoff(director, [review], roster(admin), set())
    assert (move.to, move.kind) == ("ou_mgr", ADMIN)
    (move,) = plan_handoff(director, [brand_task()], roster(), set())
    assert (move.to, move.kind) == (None, NOBODY)


def test_a_period_the_new_holder_already_has_is_covered_not_doubled():
    team = roster(*TEAM, M("ou_b2", "郑品牌", "brand"))
    taken = {("brand.compliance_check", "2026-11", "ou_b2")}
    covered, moved = plan_handoff(
        LEAVER, [brand_task(1, "2026-11"), brand_task(2, "2026-12")], team, taken
    )
    assert (covered.kind, covered.to) == (COVERED, "ou_b2")
    assert (moved.kind, moved.to) == (SUCCESSOR, "ou_b2")


def test_departed_members_are_marked_and_never_an_open_id():
    assert shown_name("王策划", False) == "王策划（已离开）"
    assert shown_name("Wang", False, "en") == "Wang (left)"
    assert shown_name("王策划", True) == "王策划"
    assert shown_name(None, False) == "未知成员（已离开）"


def largest_view(lang: str) -> HandoffView:
    rows = tuple(
        HandoffRow(
            task_id=1000 + i,
            duty_name=EVIL * 3,
            period=EVIL,
            due=NOW + timedelta(days=i),
            holder_name=EVIL,
            kind=(SUCCESSOR, MANAGER, COVERED, NOBODY)[i % 4],
            status=("open", "rejected", "done")[i % 3],
        )
        for i in range(150)
    )
    members = tuple((f"ou_{i:04d}", EVIL + "名" * 40) for i in range(300))
    return HandoffView("ou_gone", EVIL * 5, EVIL, "left", rows, members, NOW, old_role="brand")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("reason", ["left", "removed", "role", "gone"])
def test_the_card_at_its_largest_stays_within_feishus_limits(lang, reason):
    view = largest_view(lang)
    view = HandoffView(**{**view.__dict__, "reason": reason, "new_role_name": EVIL})
    card = build_handoff_card(view, lang)
    assert validate_card(card) == []
    assert count_elements(card["body"]) <= 200
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= CARD_MAX_BYTES
    for md in (n["content"] for n in _walk(card) if n.get("tag") == "markdown"):
        assert "<at" not in md and " **✅" not in md and "[x](https" not in md  # literal
    value = next(
        b["behaviors"][0]["value"]
        for b in _walk(card)
        if b.get("tag") == "button" and b.get("name") == "handoff_reassign"
    )
    action = ReassignTask.unpack(value)
    assert action.who == "ou_gone" and len(action.tasks) == 100 and action.why == reason


def test_a_card_with_nothing_to_hand_over_says_so():
    view = HandoffView("ou_gone", "陈品牌", "品牌运营专员", "left", (), (), NOW)
    card = build_handoff_card(view, "zh")
    assert validate_card(card) == []
    assert "没有未完成的任务" in json.dumps(card, ensure_ascii=False)
    assert "handoff.reassign" not in json.dumps(card)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
