"""Feishu Tasks, the other way: people tick mirrored tasks off, or delete them, in the
Feishu app, and DutyBot follows, through the signed webhook, the real lark-oapi SDK
reading the task back from the emulator. Work that is just marked done is done; work that
needs a report is opened again in Feishu with a note to its assignee; a deleted task is
left alone from then on, without an alarm."""

from __future__ import annotations

from sqlmodel import select

from storage.models import AuditLog, FeishuTaskLink, Task, TaskStatus
from tests import feishu_events as fe
from tests.conftest import Harness
from tests.sched_helpers import add_task, at, clear_tasks

PREP = "planner.preparation"  # marked done, no report
EXEC_REPORT = "planner.execution_report"  # done once its report is in
DONE = ("task_completed_update",)


async def mirror(h: Harness, duty: str, day: int = 4) -> tuple[Task, str]:
    """A task of `duty` for the planner, due on December `day`, mirrored in Feishu: the
    task and its guid."""
    task = await add_task(h.bot, duty, "ou_planner", at(2026, 12, day, 18))
    h.bot.wake_outbox()
    await h.settle()
    async with h.bot.sessions() as s:
        link = await s.get(FeishuTaskLink, task.id)
    assert link is not None and link.guid
    return task, link.guid


async def status_of(h: Harness, task_id: int) -> str:
    async with h.bot.sessions() as s:
        return (await s.get(Task, task_id)).status


async def deliver(h: Harness, payload: dict) -> None:
    resp = await h.post(payload)
    assert resp.status == 200, await resp.text()
    h.bot.wake_outbox()
    await h.settle()


async def test_ticking_off_work_without_a_report_in_feishu_marks_it_done(mirrored):
    h = mirrored
    task, guid = await mirror(h, PREP)
    h.emulator.tasks.tick_off(guid)
    await deliver(h, fe.task_changed(guid, h.clock.now(), DONE))
    assert await status_of(h, task.id) == TaskStatus.DONE
    # Nothing goes back to Feishu: it is complete there already.
    assert h.emulator.requests_for("task.v2.task.patch") == []
    assert h.emulator.tasks.get(guid).completed
    async with h.bot.sessions() as s:
        (entry,) = (
            await s.exec(select(AuditLog).where(AuditLog.subject == f"task:{task.id}"))
        ).all()
    assert entry.action == "task.done" and entry.actor_open_id == "ou_planner"
    assert "feishu_tasks" in entry.detail


async def test_work_that_needs_a_report_is_opened_again_and_its_assignee_told(mirrored):
    h = mirrored
    task, guid = await mirror(h, EXEC_REPORT)
    h.emulator.tasks.tick_off(guid)
    event = fe.task_changed(guid, h.clock.now(), DONE)
    await deliver(h, event)
    await deliver(h, event)  # Feishu pushes it again: still one note, one re-open
    assert await status_of(h, task.id) == TaskStatus.OPEN
    assert not h.emulator.tasks.get(guid).completed
    (reopen,) = h.emulator.requests_for("task.v2.task.patch")
    assert reopen["json"]["task"]["completed_at"] == "0"
    (note,) = [m for m in h.emulator.messages_to("ou_planner") if m.msg_type == "text"]
    duty = h.bot.policy.duties[EXEC_REPORT]
    assert f"对我说「提交{duty.name_zh}」" in note.content["text"]  # Chinese by default
    # The re-open comes back as an event too (Feishu shows it open): nothing more happens.
    await deliver(h, fe.task_updated_v1(guid, 6, h.clock.now()))
    assert len(h.emulator.requests_for("task.v2.task.patch")) == 1
    assert len([m for m in h.emulator.messages_to("ou_planner") if m.msg_type == "text"]) == 1


async def test_the_older_v1_event_is_understood_too(mirrored):
    h = mirrored
    task, guid = await mirror(h, PREP)
    h.emulator.tasks.tick_off(guid)
    await deliver(h, fe.task_updated_v1(guid, 5, h.clock.now()))
    assert await status_of(h, task.id) == TaskStatus.DONE


async def test_our_own_completion_coming_back_changes_nothing(mirrored):
    h = mirrored
    task, guid = await mirror(h, PREP)
    await h.click("ou_planner", {"a": "task.done", "v": 1, "t": task.id})
    assert h.emulator.tasks.get(guid).completed
    gets = len(h.emulator.requests_for("task.v2.task.get"))
    await deliver(h, fe.task_changed(guid, h.clock.now(), DONE))
    assert len(h.emulator.requests_for("task.v2.task.get")) == gets  # not even read back
    assert len(h.emulator.requests_for("task.v2.task.patch")) == 1


async def test_a_task_deleted_in_feishu_is_left_alone_without_an_alarm(mirrored):
    h = mirrored
    task, guid = await mirror(h, PREP)
    other, other_guid = await mirror(h, PREP, day=7)
    admin_cards = len(h.emulator.cards_to("ou_manager"))
    # One deletion Feishu tells us about, one it does not (the event was not subscribed).
    h.emulator.tasks.delete_in_app(guid)
    await deliver(h, fe.task_changed(guid, h.clock.now(), ("task_deleted",)))
    h.emulator.tasks.delete_in_app(other_guid)
    for t in (task, other):
        async with h.bot.sessions() as s:
            row = await s.get(Task, t.id)
            row.due_at = at(2026, 12, 9, 18)
            s.add(row)
            await s.commit()
    h.bot.wake_outbox()
    await h.settle()
    # The known deletion: no call at all; the unknown one: one refused patch, then quiet.
    patches = h.emulator.requests_for("task.v2.task.patch")
    assert [p["path"].rsplit("/", 1)[-1] for p in patches] == [other_guid]
    async with h.bot.sessions() as s:
        assert (await s.get(FeishuTaskLink, task.id)).closed
        assert (await s.get(FeishuTaskLink, other.id)).closed
    assert await status_of(h, task.id) == TaskStatus.OPEN  # the work itself stays
    assert len(h.emulator.cards_to("ou_manager")) == admin_cards  # no "undelivered" alarm


async def test_a_task_dutybot_did_not_create_is_ignored(mirrored):
    h = mirrored
    await deliver(h, fe.task_changed("0d6e3c7a-unknown", h.clock.now(), DONE))
    assert h.emulator.requests_for("task.v2.task.get") == []


async def test_without_the_mirror_task_events_are_ignored(harness):
    h = harness
    await clear_tasks(h.bot)
    resp = await h.post(fe.task_changed("0d6e3c7a-any", h.clock.now(), DONE))
    assert resp.status == 200
    await h.settle()
    assert h.emulator.requests_for("task.v2.task.get") == []


async def test_the_note_speaks_the_language_the_assignee_writes_in(mirrored):
    h = mirrored
    await h.say("what's due")  # the planner writes in English
    task, guid = await mirror(h, EXEC_REPORT)
    h.emulator.tasks.tick_off(guid)
    await deliver(h, fe.task_changed(guid, h.clock.now(), DONE))
    notes = [m for m in h.emulator.messages_to("ou_planner") if m.msg_type == "text"]
    duty = h.bot.policy.duties[EXEC_REPORT]
    assert any(f'Say "submit {duty.name_en}"' in m.content["text"] for m in notes)
    # …and what it says works: the report form comes.
    before = len(h.emulator.cards_to("ou_planner"))
    await h.say(f"submit {duty.name_en}")
    cards = h.emulator.cards_to("ou_planner")[before:]
    assert any("form" in str(card) for card in cards)
