"""A newcomer's first minutes: the bot greets them when they open its chat, the help card
lists everything the bot can do, and people who are not on the team see the open_id an
admin needs to add them. End to end through the signed webhook and the emulator."""

from __future__ import annotations

import json

import pytest

from tests import feishu_events as fe


def text_of(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def chat_entered(open_id: str, at) -> dict:
    return fe.envelope(
        "im.chat.access_event.bot_p2p_chat_entered_v1",
        {
            "chat_id": f"oc_p2p_{open_id}",
            "operator_id": {"open_id": open_id, "union_id": f"on_{open_id}"},
            "last_message_id": "",
        },
        at,
    )


@pytest.mark.parametrize(
    ("ask", "words"),
    [
        ("帮助", ("待办", "提交周报", "我的报告", "待审批", "活动列表", "周汇总", "标记完成")),
        (
            "help",
            ("what's due", "submit weekly report", "my reports", "pending approvals"),
        ),
    ],
)
async def test_help_lists_every_capability(harness, ask, words):
    await harness.say(ask, sender="ou_planner")
    (msg,) = harness.emulator.messages
    text = text_of(msg.card)
    for word in words:
        assert word in text, word
    assert "设置审批人" not in text  # admin commands only for admins


async def test_admins_see_the_admin_commands_in_help(harness):
    await harness.say("help", sender="ou_director")
    text = text_of(harness.emulator.messages[0].card)
    for word in ("new activity", "set approver", "assign", "remove", "leave", "ledger export"):
        assert word in text, word


async def test_first_private_chat_is_greeted_once(harness):
    for _ in range(2):
        resp = await harness.post(chat_entered("ou_planner", harness.clock.now()))
        assert resp.status == 200
        await harness.settle()
    (msg,) = harness.emulator.messages
    assert msg.receive_id == "oc_p2p_ou_planner"
    assert "DutyBot 帮助" in text_of(msg.card)


async def test_a_stranger_opening_the_chat_is_told_their_open_id(harness):
    await harness.post(chat_entered("ou_newcomer", harness.clock.now()))
    await harness.settle()
    (msg,) = harness.emulator.messages
    text = text_of(msg.card)
    assert "`ou_newcomer`" in text and "周总监" in text  # whom to ask, and what to tell them


async def test_whoami_and_not_on_team_show_the_open_id(harness):
    await harness.say("我是谁", sender="ou_planner")
    await harness.say("whoami", sender="ou_stranger")
    mine, stranger = harness.emulator.messages
    assert "`ou_planner`" in text_of(mine.card)
    assert "`ou_stranger`" in text_of(stranger.card)
