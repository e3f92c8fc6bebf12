"""Managing the team in chat, and the bot joining a group."""

from __future__ import annotations

import json

from sqlmodel import select

from storage.models import AuditLog, Chat, Member
from tests import feishu_events as fe


def mention(key: str, open_id: str, name: str) -> dict:
    return {"key": key, "id": {"open_id": open_id}, "name": name}


async def group_say(harness, text: str, sender: str, *people: tuple[str, str]):
    mentions = [fe.bot_mention("@_user_1")] + [
        mention(f"@_user_{i + 2}", oid, name) for i, (oid, name) in enumerate(people)
    ]
    body = "@_user_1 " + text.format(*[f"@_user_{i + 2}" for i in range(len(people))])
    return await harness.say(body, sender=sender, chat_type="group", mentions=mentions)


async def test_admin_assigns_a_new_member_to_a_role(harness):
    await group_say(harness, "绑定 {} 市场策划专员", "ou_manager", ("ou_newbie", "张三"))
    (msg,) = harness.emulator.messages
    assert "张三" in json.dumps(msg.card, ensure_ascii=False) and "市场策划专员" in json.dumps(
        msg.card, ensure_ascii=False
    )
    async with harness.bot.sessions() as session:
        member = await session.get(Member, "ou_newbie")
        audit = (
            await session.exec(select(AuditLog).where(AuditLog.action == "member.assigned"))
        ).all()
    assert member.role_key == "planner" and member.active
    assert len(audit) == 1 and audit[0].actor_open_id == "ou_manager"


async def test_moving_a_member_creates_the_new_roles_tasks(harness):
    await group_say(harness, "assign {} brand", "ou_manager", ("ou_research", "孙调研"))
    await harness.say("待办", sender="ou_research")
    text = json.dumps(harness.emulator.messages[-1].card, ensure_ascii=False)
    assert "内容更新发布" in text  # a brand duty
    assert "竞品" not in text  # research's monthly competitor report was cancelled


async def test_non_admin_is_refused_and_the_attempt_audited(harness):
    await group_say(harness, "绑定 {} 市场经理", "ou_planner", ("ou_planner", "王策划"))
    (msg,) = harness.emulator.messages
    assert msg.msg_type == "text" and "管理员" in msg.text
    async with harness.bot.sessions() as session:
        planner = await session.get(Member, "ou_planner")
        refused = (
            await session.exec(select(AuditLog).where(AuditLog.action == "team.refused"))
        ).all()
    assert planner.role_key == "planner" and len(refused) == 1


async def test_set_approver_and_remove(harness):
    await group_say(
        harness,
        "设置审批人 {} {}",
        "ou_director",
        ("ou_brand", "陈品牌"),
        ("ou_director", "周总监"),
    )
    await group_say(harness, "remove {}", "ou_director", ("ou_crm", "吴客户"))
    async with harness.bot.sessions() as session:
        brand = await session.get(Member, "ou_brand")
        crm = await session.get(Member, "ou_crm")
    assert brand.manager_open_id == "ou_director" and crm.active is False
    await harness.say("whoami", sender="ou_crm")
    assert "not on the team" in json.dumps(harness.emulator.messages[-1].card, ensure_ascii=False)


async def test_usage_help_when_the_command_is_incomplete(harness):
    await group_say(harness, "assign nobody", "ou_manager")
    assert "Usage: assign" in harness.emulator.messages[0].text


async def test_bot_added_to_group_introduces_itself_and_offers_team_chat(harness):
    payload = fe.envelope(
        "im.chat.member.bot.added_v1",
        {
            "chat_id": "oc_new",
            "operator_id": {"open_id": "ou_manager"},
            "name": "活动小组",
            "external": False,
        },
        harness.clock.now(),
    )
    assert (await harness.post(payload)).status == 200
    await harness.settle()
    (intro,) = harness.emulator.messages_to("oc_new")
    button = json.dumps(intro.card, ensure_ascii=False)
    assert "chat.make_team" in button
    refused = await harness.click(
        "ou_planner", {"a": "chat.make_team", "v": 1, "c": "oc_new"}, chat_id="oc_new"
    )
    assert refused["toast"]["type"] == "error"
    answer = await harness.click(
        "ou_manager", {"a": "chat.make_team", "v": 1, "c": "oc_new"}, chat_id="oc_new"
    )
    assert answer["toast"]["type"] == "success"
    async with harness.bot.sessions() as session:
        chat = await session.get(Chat, "oc_new")
    assert chat.is_team and chat.name == "活动小组"
