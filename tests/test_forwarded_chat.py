"""A merged forward (合并转发) of a chat with a user: Feishu's event carries only a
placeholder, so the bot reads the forwarded messages back (`GET im/v1/messages/{id}`, the
real SDK against the emulator), shows them on the "what is it?" card, and keeps them on the
task it starts. When Feishu will not give them (no scope, an outage), it says so, and the
owner is told whom to ask, as before."""

from __future__ import annotations

from cards.schema import validate_card
from tests import feishu_events as fe
from tests.sched_helpers import button_values, text_of
from tests.test_sla_in_chat import P2P, cards, markdown_of, sla_tasks

QUESTION = '这款面霜的保质期是多久？**急** <at user_id="all"></at> [点我](https://evil.example)'


async def forward(harness, parts: list[tuple[str, str, dict]] | None, sender: str = "ou_brand"):
    """`sender` forwards a chat whose messages are `parts` (None: Feishu gives none)."""
    payload = fe.message("", sender, harness.clock.now(), message_type="merge_forward")
    payload["event"]["message"]["content"] = "Merged and Forwarded Message"
    message_id = payload["event"]["message"]["message_id"]
    harness.emulator.register_event(payload)
    if parts is not None:
        harness.emulator.add_forwarded(message_id, parts)
    assert (await harness.post(payload)).status == 200
    await harness.settle()
    (choose,) = cards(harness, P2P(sender))
    assert validate_card(choose) == []
    return choose, [v for v in button_values(choose) if v.get("a") == "sla.log"]


async def test_a_forwarded_chat_is_read_back_shown_and_kept_on_the_task(harness):
    parts = [
        ("ou_customer_x", "text", {"text": QUESTION}),
        ("ou_brand", "post", {"title": "", "content": [[{"tag": "text", "text": "我查一下"}]]}),
        ("ou_customer_x", "image", {"image_key": "img_v2_1"}),  # no text: left out
    ]
    choose, (question, _complaint) = await forward(harness, parts)
    shown = markdown_of(choose)
    assert "读不到原文" not in text_of(choose)
    assert "这款面霜的保质期是多久" in shown and "陈品牌: 我查一下" in shown
    # the user's words are shown, never obeyed: no mention of everyone, no link, no bold
    assert "<at" not in shown and "[点我](" not in shown and "**急**" not in shown
    assert harness.emulator.requests_for("im.message.get")

    answer = await harness.click("ou_brand", question)
    assert answer["toast"]["type"] == "success"
    (task,) = await sla_tasks(harness.bot)
    assert task.subject == f"用户: {QUESTION}\n陈品牌: 我查一下"
    assert "请向" not in task.subject  # nobody needs to ask for the original


async def test_without_the_scope_the_owner_is_told_whom_to_ask(harness):
    """Feishu refuses the read (the app lacks im:message:readonly): the card says the text
    cannot be read, and the task names who forwarded it."""
    harness.emulator.fail_next("im.message.get", status=400, code=99991672, times=2)
    choose, (_question, complaint) = await forward(harness, [("ou_x", "text", {"text": "hi"})])
    assert "读不到原文" in text_of(choose)

    answer = await harness.click("ou_brand", complaint)
    assert answer["toast"]["type"] == "success"
    (task,) = await sla_tasks(harness.bot)
    assert "陈品牌" in task.subject and "hi" not in task.subject
