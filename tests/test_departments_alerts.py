"""With several departments, the card about messages that could not be delivered goes to
the admins of the department the message belongs to (its receiver's), each department with
its own incident; a message of no known department goes to every admin. Through signed
webhooks, the outbox and the emulator refusing a send."""

from __future__ import annotations

from datetime import timedelta

from tests import feishu_events as fe
from tests.test_departments import company  # noqa: F401 - the fixture
from tests.test_outbox import alerts

MARKETING_ADMINS = {"ou_director"}
SALES_ADMINS = {"ou_s_director"}


async def lost_answer(harness, text: str, sender: str, **kwargs) -> set[str]:
    """`sender` says `text`; Feishu refuses the answer for good. Who got an alert?"""
    before = len(alerts(harness.emulator))
    api = "im.message.reply" if kwargs.get("chat_type") == "group" else "im.message.create"
    harness.emulator.fail_next(api, status=400, code=230013, msg="user not in availability")
    await harness.say(text, sender=sender, **kwargs)
    return {m.receive_id for m in alerts(harness.emulator)[before:]}


async def test_undelivered_alerts_go_to_the_messages_department(harness, company):  # noqa: F811
    # an answer in a sales rep's private chat: sales' admin hears, marketing's does not
    assert await lost_answer(harness, "待办", "ou_s_rep") == SALES_ADMINS
    # marketing's loss is marketing's own incident, told to marketing's admin
    assert await lost_answer(harness, "待办", "ou_planner") == MARKETING_ADMINS
    # someone not on the team: no department known, every admin hears
    everyone = MARKETING_ADMINS | SALES_ADMINS
    assert await lost_answer(harness, "待办", "ou_stranger") == everyone
    # within an incident, a department's further losses are not alerted again
    assert await lost_answer(harness, "what's due", "ou_s_manager") == set()

    # hours later: a reply in sales' team chat is sales', whoever asked
    harness.clock.advance(timedelta(hours=7))
    in_sales_chat = {"chat_type": "group", "chat_id": "oc_sales", "mentions": [fe.bot_mention()]}
    got = await lost_answer(harness, "@_user_1 待办", "ou_director", **in_sales_chat)
    assert got == SALES_ADMINS
