"""The bot menu: each item answered in the clicker's private chat (by open_id), through the
real signed webhook and the emulator."""

from __future__ import annotations

import json

from tests import feishu_events as fe
from tests.sched_helpers import title


async def choose(harness, key: str, operator: str, **kwargs) -> list:
    before = len(harness.emulator.messages)
    resp = await harness.post(fe.menu(key, operator, harness.clock.now(), **kwargs))
    assert resp.status == 200, await resp.text()
    await harness.settle()
    return harness.emulator.messages[before:]


async def test_menu_items_answer_the_clicker_in_private(harness):
    (due,) = await choose(harness, "due", "ou_manager")
    assert (due.receive_id_type, due.receive_id) == ("open_id", "ou_manager")
    assert title(due.card).startswith("待办")
    assert "项目进度周报" in json.dumps(due.card, ensure_ascii=False)  # the manager's weekly report
    (helped,) = await choose(harness, "help", "ou_planner")
    assert helped.receive_id == "ou_planner" and "帮助" in title(helped.card)
    (approvals,) = await choose(harness, "approvals", "ou_manager")
    assert title(approvals.card).startswith("待我审批")
    (submit,) = await choose(harness, "submit", "ou_planner")
    assert submit.receive_id == "ou_planner"  # a report form or the list to pick from


async def test_unknown_menu_key_gets_a_helpful_answer(harness):
    (answer,) = await choose(harness, "<at user_id=all>", "ou_planner")
    assert answer.msg_type == "text" and answer.receive_id == "ou_planner"
    assert "due, submit, approvals, help" in answer.text and "<at" not in answer.text


async def test_someone_off_the_team_is_told_who_the_admins_are(harness):
    (answer,) = await choose(harness, "due", "ou_stranger")
    assert answer.receive_id == "ou_stranger"
    assert "李经理" in json.dumps(answer.card, ensure_ascii=False)  # an admin to ask


async def test_a_repeated_menu_event_is_answered_once(harness):
    assert len(await choose(harness, "help", "ou_planner", event_id="evt-menu-1")) == 1
    assert await choose(harness, "help", "ou_planner", event_id="evt-menu-1") == []
