"""An admin imports a group's members in chat ("导入本群成员" / "import members"): through the
real signed webhook, the emulator's chat-member and contact endpoints, and the card's select."""

from __future__ import annotations

import json

from sqlmodel import select

from storage.models import Member
from tests import feishu_events as fe

CHAT = "oc_team"
DIRECTORY = [  # open_id, name, job title: two of the team, two newcomers
    ("ou_manager", "李经理", "市场经理"),
    ("ou_planner", "王策划", "市场策划专员"),
    ("ou_newbrand", "钱品牌", "高级品牌运营专员"),
    ("ou_intern", "小刘", "实习生"),
]


def find(card: dict, tag: str) -> list[dict]:
    """Every element with this tag, however deeply nested."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("tag") == tag:
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return found


async def say_in_group(harness, text: str, sender: str):
    before = len(harness.emulator.messages)
    await harness.say(
        f"@_user_1 {text}", sender, chat_type="group", chat_id=CHAT, mentions=[fe.bot_mention()]
    )
    return harness.emulator.messages[before:]


async def roles(harness) -> dict[str, str]:
    async with harness.bot.sessions() as s:
        members = (await s.exec(select(Member).where(Member.active))).all()
    return {m.open_id: m.role_key for m in members}


async def test_admin_imports_the_group_and_assigns_the_rest_on_the_card(harness):
    emu = harness.emulator
    for open_id, name, title in DIRECTORY:
        emu.add_user(open_id, name, job_title=title)
    emu.set_chat_members(CHAT, [d[0] for d in DIRECTORY])

    (answer,) = await say_in_group(harness, "导入本群成员", "ou_manager")
    assert answer.parent_id  # a reply to the admin's message, in the group
    text = json.dumps(answer.card, ensure_ascii=False)
    assert "已导入本群成员" in text and "钱品牌：品牌运营专员" in text
    assert "新增 1 人" in text and "小刘" in text and "职务“实习生”不对应任何角色" in text
    team = await roles(harness)
    assert team["ou_newbrand"] == "brand" and "ou_intern" not in team
    assert team["ou_manager"] == "manager"  # everyone else is as before

    (select_el,) = find(answer.card, "select_static")
    assert {o["value"] for o in select_el["options"]} >= {"research", "planner"}
    (submit,) = [b for b in find(answer.card, "button") if b.get("form_action_type")]
    value = submit["behaviors"][0]["value"]

    refused = await harness.click("ou_planner", value, form_value={select_el["name"]: "research"})
    assert refused["toast"]["type"] == "error"
    assert "ou_intern" not in await roles(harness)  # authority is checked at the click

    done = await harness.click("ou_manager", value, form_value={select_el["name"]: "research"})
    assert done["toast"]["type"] == "success"
    assert "小刘：市场调研专员" in json.dumps(done["card"], ensure_ascii=False)
    assert (await roles(harness))["ou_intern"] == "research"

    (again,) = await say_in_group(harness, "import members", "ou_manager")
    assert "0 added, 0 updated" in json.dumps(again.card)  # a second import changes nothing


async def test_only_admins_import_and_only_in_a_group(harness):
    (refused,) = await say_in_group(harness, "导入本群成员", "ou_planner")
    assert refused.text == "只有管理员可以导入群成员。"
    before = len(harness.emulator.messages)
    await harness.say("import members", "ou_manager")
    (private,) = harness.emulator.messages[before:]
    assert "in the group" in private.text
