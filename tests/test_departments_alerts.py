"""With several departments, the card about messages that could not be delivered goes to
the admins of the department the message belongs to (its receiver's), each department with
its own incident; a message of no known department goes to every admin. Through signed
webhooks, the outbox, the Feishu Tasks mirror and the emulator refusing a call."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs.scheduler import run_tick
from storage.models import Task
from tests import feishu_events as fe
from tests.sched_helpers import add_task, at
from tests.test_departments import company, dutybot, write_team  # noqa: F401 - the fixture
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


async def test_a_feishu_task_call_lost_is_its_tasks_departments(mirrored, tmp_path):
    """A Feishu Tasks create refused for a sales task: sales' admin hears."""
    h = mirrored
    result = await dutybot(h, tmp_path, "org", "sync", str(write_team(tmp_path)))
    assert result.returncode == 0, result.stderr
    await run_tick(h.bot, h.clock.now())
    await h.settle()  # the team's tasks are mirrored
    task = await add_task(h.bot, "rep.visit_report", "ou_s_rep", at(2026, 12, 7, 18))
    async with h.bot.sessions() as session:
        (await session.get(Task, task.id)).department = "sales"
        await session.commit()
    h.emulator.fail_next("task.v2.task.create", status=400, code=99991672, msg="no scope")
    before = len(alerts(h.emulator))
    h.bot.wake_outbox()
    await h.settle()
    assert h.bot.outbox.reporter.counts[("task", "permanent")] == 1
    assert {m.receive_id for m in alerts(h.emulator)[before:]} == SALES_ADMINS
