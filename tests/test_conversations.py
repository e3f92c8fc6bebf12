"""What a team member sees: asking the bot in Feishu, end to end through the signed webhook,
the inbox and outbox, the real lark-oapi SDK and the local Feishu emulator."""

from __future__ import annotations

import json

from cards.schema import validate_card
from tests import feishu_events as fe


def card_text(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_whats_due_in_private_chat_answers_with_one_card(harness):
    await harness.say("待办", sender="ou_manager")
    sent = harness.emulator.messages
    assert len(sent) == 1
    msg = sent[0]
    assert msg.msg_type == "interactive" and msg.receive_id == "oc_p2p_ou_manager"
    card = msg.card
    assert validate_card(card) == []
    text = card_text(card)
    assert "李经理" in card["header"]["title"]["content"]
    assert "项目进度周报" in text  # the manager's weekly progress report
    assert "11-27" in text  # due Friday 27 Nov (Asia/Shanghai)
    assert "18:00" in text
    assert "过程监控" in text  # the policy clause it comes from


async def test_whats_due_in_english_answers_in_english(harness):
    await harness.say("what's due?", sender="ou_manager")
    (msg,) = harness.emulator.messages
    text = card_text(msg.card)
    assert "Weekly project progress report" in text
    assert "项目进度周报" not in text


async def test_group_message_mentioning_bot_gets_a_reply_to_that_message(harness):
    payload = await harness.say(
        "@_user_1 待办", sender="ou_brand", chat_type="group", mentions=[fe.bot_mention()]
    )
    (msg,) = harness.emulator.messages
    assert msg.api == "im.message.reply"
    assert msg.parent_id == payload["event"]["message"]["message_id"]
    assert "陈品牌" in msg.card["header"]["title"]["content"]


async def test_group_message_without_mention_is_ignored(harness):
    other = {"key": "@_user_1", "id": {"open_id": "ou_manager"}, "name": "李经理"}
    await harness.say(
        "@_user_1 待办 please", sender="ou_brand", chat_type="group", mentions=[other]
    )
    await harness.say("待办", sender="ou_brand", chat_type="group")
    assert harness.emulator.messages == []


async def test_outsider_gets_a_polite_card_naming_the_admins(harness):
    await harness.say("待办", sender="ou_stranger")
    (msg,) = harness.emulator.messages
    text = card_text(msg.card)
    assert "周总监" in text and "李经理" in text
    assert "王策划" not in text  # not an admin


async def test_whoami_shows_role_and_approver(harness):
    await harness.say("我是谁", sender="ou_planner")
    text = card_text(harness.emulator.messages[0].card)
    assert "市场策划专员" in text and "李经理" in text and "市场部" in text


async def test_whoami_honours_manager_override(harness):
    await harness.say("whoami", sender="ou_crm")
    text = card_text(harness.emulator.messages[0].card)
    assert "Customer Relations Specialist" in text and "周总监" in text


async def test_help_in_both_languages(harness):
    await harness.say("帮助", sender="ou_planner")
    await harness.say("help", sender="ou_planner")
    zh, en = (m.card for m in harness.emulator.messages)
    assert "待办" in card_text(zh) and "what's due" in card_text(en)
    assert zh["header"]["title"]["content"] != en["header"]["title"]["content"]


async def test_anything_else_gets_a_short_pointer_to_help(harness):
    await harness.say("你好", sender="ou_planner")
    await harness.say("hello", sender="ou_planner")
    zh, en = harness.emulator.messages
    assert zh.msg_type == "text" and "帮助" in zh.text
    assert "help" in en.text


async def test_overdue_scope_lists_only_overdue(harness):
    from datetime import timedelta

    harness.clock.advance(timedelta(days=2))  # Sat 28 Nov: Friday's weekly report is overdue
    await harness.say("逾期", sender="ou_manager")
    card = harness.emulator.messages[0].card
    assert card["header"]["template"] == "red"
    assert "项目进度周报" in card_text(card)


async def test_refresh_button_updates_the_card_for_its_owner_only(harness):
    await harness.say("待办", sender="ou_manager")
    card = harness.emulator.messages[0].card
    value = next(
        b["behaviors"][0]["value"]
        for b in _walk(card)
        if b.get("tag") == "button" and b["behaviors"][0]["value"]["a"] == "due.refresh"
    )
    answer = await harness.click("ou_manager", value)
    assert answer["toast"]["type"] == "success"
    assert validate_card(answer["card"]["data"]) == []
    refused = await harness.click("ou_planner", value)
    assert refused["toast"]["type"] == "warning" and "card" not in refused


async def test_click_on_unknown_or_forged_action_gets_a_toast(harness):
    for value in ({"a": "report.approve", "report_id": 999}, {"nonsense": True}):
        answer = await harness.click("ou_manager", value)
        assert answer["toast"]["type"] == "warning"


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
