"""Work gets done, and the card says so at once: marking a task done, snoozing it or
submitting its report updates the card the click came from (end to end: signed webhook,
inline answer, outbox patch, emulator)."""

from __future__ import annotations

from datetime import date

from tests.sched_helpers import add_task, at, button_values, clear_tasks, new_activity, text_of
from tests.test_reports import WEEKLY_FORM, button_value, last_card

PREP = "planner.preparation"  # a "mark done" duty


def due_cards(harness, open_id: str) -> list:
    chat = f"oc_p2p_{open_id}"
    return [
        m
        for m in harness.emulator.messages_to(chat)
        if m.card and m.card["header"]["title"]["content"].startswith("待办")
    ]


async def test_marking_done_on_the_due_list_takes_the_task_off_it(harness):
    change = await new_activity(harness.bot, date(2026, 12, 28), date(2026, 12, 28))
    prep = next(t for t in change.tasks if t.duty_key == PREP)
    await harness.say("待办", sender="ou_planner")
    (due,) = due_cards(harness, "ou_planner")
    before = button_values(due.card)
    done = {"a": "task.done", "v": 1, "t": prep.id}
    assert done in before
    answer = await harness.click("ou_planner", done, message_id=due.message_id)
    assert answer["toast"]["type"] == "success"
    after = answer["card"]["data"]
    assert after["header"]["title"]["content"].startswith("待办")  # the same list, rebuilt
    assert done not in button_values(after)
    assert len(button_values(after)) == len(before) - 1  # one task fewer


async def test_marking_done_on_a_reminder_shows_done_in_place(harness):
    from bot.jobs.reminders import send_round

    await clear_tasks(harness.bot)
    task = await add_task(harness.bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    harness.clock.set(at(2026, 12, 3, 10))
    await send_round(harness.bot.sessions, harness.bot.services, harness.clock.now())
    await harness.settle()
    reminder = [m for m in harness.emulator.messages if m.receive_id == "ou_planner"][-1]
    snooze = {"a": "task.snooze", "v": 1, "t": task.id}
    answer = await harness.click("ou_planner", snooze, message_id=reminder.message_id)
    assert answer["toast"]["type"] == "success"
    snoozed = answer["card"]["data"]
    assert snooze not in button_values(snoozed) and "⏰" in text_of(snoozed)
    done = {"a": "task.done", "v": 1, "t": task.id}
    answer = await harness.click("ou_planner", done, message_id=reminder.message_id)
    card = answer["card"]["data"]
    assert done not in button_values(card) and "✅ 已完成" in text_of(card)


async def test_submitting_a_report_opened_from_the_due_list_updates_that_list(harness):
    await harness.say("待办", sender="ou_manager")
    (due,) = due_cards(harness, "ou_manager")
    open_value = next(v for v in button_values(due.card) if v["a"] == "report.open")
    await harness.click("ou_manager", open_value, message_id=due.message_id)
    form = last_card(harness, "ou_manager")
    answer = await harness.click(
        "ou_manager",
        button_value(form.card, "report.submit"),
        message_id=form.message_id,
        form_value=WEEKLY_FORM,
        name="report_submit",
    )
    assert answer["toast"]["type"] == "success"
    shown = harness.emulator.find_message(due.message_id)
    assert shown.updates, "the due list was not updated"
    assert open_value not in button_values(shown.card)  # nothing left to submit there
