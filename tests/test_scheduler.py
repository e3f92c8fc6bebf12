"""Reminders and escalation with the injected clock: the ladder (-1 / 0 / +1 / +3 working
days), working hours, weekends and holidays, leave, snooze (never resets escalation), the
task buttons, idempotent re-runs, a crash between claiming and sending, the in-process
scheduler and `dutybot tick`."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from bot.jobs.reminders import send_round
from bot.jobs.scheduler import Scheduler, run_tick
from storage.models import Marker, OutboundMessage, TaskStatus
from storage.queue import claim
from tests import feishu_events as fe
from tests.conftest import TEAM_FILE
from tests.sched_helpers import (
    add_leave,
    add_task,
    at,
    button_values,
    clear_tasks,
    content,
    get_task,
    last_outbox_id,
    outbox,
    set_task,
    text_of,
    title,
)
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
PREP = "planner.preparation"  # a "mark done" duty of the planner
PLAN = "planner.activity_plan"  # a report duty of the planner


async def round_at(bot, when) -> dict[str, dict]:
    """Run one reminder round at `when`; the cards it queued, by receiver (one each)."""
    before = await last_outbox_id(bot)
    await send_round(bot.sessions, bot.services, when.astimezone(UTC))
    rows = await outbox(bot, after_id=before)
    receivers = [r.receive_id for r in rows]
    assert len(receivers) == len(set(receivers)), f"two cards for one person: {receivers}"
    return {r.receive_id: content(r) for r in rows}


async def test_the_ladder_step_by_step(harness):
    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))  # Friday 18:00
    assert await round_at(bot, at(2026, 12, 2, 10)) == {}  # Wed: nothing yet
    assert await round_at(bot, at(2026, 12, 3, 9, 29)) == {}  # Thu before working hours
    heads_up = await round_at(bot, at(2026, 12, 3, 9, 30))  # -1 working day
    assert list(heads_up) == ["ou_planner"]
    card = heads_up["ou_planner"]
    assert "即将到期" in text_of(card) and "物料制作" in text_of(card)
    assert {"a": "task.done", "v": 1, "t": task.id} in button_values(card)
    assert {"a": "task.snooze", "v": 1, "t": task.id} in button_values(card)
    assert await round_at(bot, at(2026, 12, 3, 15)) == {}  # sent once
    today = await round_at(bot, at(2026, 12, 4, 9, 31))  # the due day
    assert list(today) == ["ou_planner"] and "今天到期" in text_of(today["ou_planner"])
    assert await round_at(bot, at(2026, 12, 5, 10)) == {}  # Saturday
    late = await round_at(bot, at(2026, 12, 7, 9, 30))  # +1 working day: the manager too
    assert sorted(late) == ["ou_manager", "ou_planner"]
    assert "逾期 1 个工作日" in text_of(late["ou_planner"])
    manager = text_of(late["ou_manager"])
    assert "王策划" in manager and "团队逾期" in manager
    assert not [v for v in button_values(late["ou_manager"]) if v.get("t") == task.id]
    assert await round_at(bot, at(2026, 12, 8, 10)) == {}  # +2: no step
    escalated = await round_at(bot, at(2026, 12, 9, 10))  # +3: the director as well
    assert sorted(escalated) == ["ou_director", "ou_manager", "ou_planner"]
    assert "逾期 3 个工作日" in text_of(escalated["ou_director"])
    assert await round_at(bot, at(2026, 12, 10, 10)) == {}
    assert await round_at(bot, at(2026, 12, 21, 10)) == {}  # the ladder has ended


async def test_reminders_speak_the_language_each_person_last_wrote_in(harness):
    bot = harness.bot
    await harness.say("what's due", sender="ou_planner")  # the planner writes in English
    await clear_tasks(bot)
    await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    late = await round_at(bot, at(2026, 12, 7, 9, 30))  # +1 working day: the manager too
    planner = text_of(late["ou_planner"])
    assert title(late["ou_planner"]).startswith("Reminder")
    assert "1 working day(s) overdue" in planner and "逾期" not in planner
    manager = text_of(late["ou_manager"])  # the manager never wrote: the team's language
    assert "逾期 1 个工作日" in manager and "王策划" in manager


async def test_one_card_per_person_per_round_with_the_right_buttons(harness):
    bot = harness.bot
    await clear_tasks(bot)
    prep = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    plan = await add_task(bot, PLAN, "ou_planner", at(2026, 12, 4, 18))
    own = await add_task(bot, "manager.plan_approval", "ou_manager", at(2026, 12, 7, 18))
    cards = await round_at(bot, at(2026, 12, 7, 10))
    assert sorted(cards) == ["ou_manager", "ou_planner"]
    planner = button_values(cards["ou_planner"])
    assert {"a": "report.open", "v": 1, "t": plan.id} in planner  # a report duty
    assert {"a": "task.done", "v": 1, "t": prep.id} in planner  # a mark-done duty
    assert {"a": "task.done", "v": 1, "t": plan.id} not in planner
    assert len([v for v in planner if v["a"] == "task.snooze"]) == 2
    manager = cards["ou_manager"]
    text = text_of(manager)
    assert "你的任务" in text and "活动方案审批" in text  # their own task, due today
    assert "团队逾期" in text and "物料制作" in text and "活动方案" in text  # escalated
    assert {"a": "task.done", "v": 1, "t": own.id} in button_values(manager)


async def test_outside_working_hours_waits_for_the_next_working_morning(harness):
    bot = harness.bot
    await clear_tasks(bot)
    await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))  # created on the due day
    assert await round_at(bot, at(2026, 12, 4, 18, 45)) == {}  # after hours
    assert await round_at(bot, at(2026, 12, 5, 10)) == {}  # Saturday
    assert await round_at(bot, at(2026, 12, 7, 9, 29)) == {}
    monday = await round_at(bot, at(2026, 12, 7, 9, 30))
    # the catch-up is the current step only: overdue (+1) to both, no late "due today"
    assert sorted(monday) == ["ou_manager", "ou_planner"]
    assert "今天到期" not in text_of(monday["ou_planner"])


async def test_national_day_holiday_and_the_make_up_saturday(harness):
    bot = harness.bot
    await clear_tasks(bot)
    await add_task(bot, PREP, "ou_planner", at(2026, 10, 8, 18))  # the first day back
    assert list(await round_at(bot, at(2026, 9, 30, 10))) == ["ou_planner"]  # -1 WD
    for day in range(1, 8):  # Oct 1-7: off
        assert await round_at(bot, at(2026, 10, day, 10)) == {}
    assert "今天到期" in text_of((await round_at(bot, at(2026, 10, 8, 10)))["ou_planner"])
    assert sorted(await round_at(bot, at(2026, 10, 9, 10))) == ["ou_manager", "ou_planner"]
    assert await round_at(bot, at(2026, 10, 10, 10)) == {}  # make-up Saturday = +2
    # +3 working days: Fri 9, Sat 10 (make-up), Mon 12
    assert sorted(await round_at(bot, at(2026, 10, 12, 10))) == [
        "ou_director",
        "ou_manager",
        "ou_planner",
    ]


async def test_leave_excuses_tasks_due_then_and_skips_people_who_are_away(harness):
    bot = harness.bot
    await clear_tasks(bot)
    await add_leave(bot, "ou_planner", date(2026, 12, 3), date(2026, 12, 4))
    await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))  # due while on leave
    for when in (
        at(2026, 12, 3, 10),
        at(2026, 12, 4, 10),
        at(2026, 12, 7, 10),
        at(2026, 12, 9, 10),
    ):
        assert await round_at(bot, when) == {}, when  # excused: nobody is chased
    # a task due after the leave: the away days are skipped, the ladder goes on
    await clear_tasks(bot)
    await add_leave(bot, "ou_digital", date(2026, 12, 7), date(2026, 12, 8))
    await add_task(bot, "digital.promotion_plan", "ou_digital", at(2026, 12, 4, 18))
    assert list(await round_at(bot, at(2026, 12, 3, 10))) == ["ou_digital"]
    assert list(await round_at(bot, at(2026, 12, 7, 10))) == ["ou_manager"]  # digital away
    back = await round_at(bot, at(2026, 12, 9, 10))
    assert sorted(back) == ["ou_digital", "ou_director", "ou_manager"]


async def test_snooze_holds_the_assignee_only_and_never_resets_escalation(harness):
    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    harness.clock.set(at(2026, 12, 4, 9, 31))
    card = (await round_at(bot, harness.clock.now()))["ou_planner"]
    snooze = next(v for v in button_values(card) if v["a"] == "task.snooze")
    refused = await harness.click("ou_manager", snooze)
    assert refused["toast"]["type"] == "warning"
    assert (await get_task(bot, task.id)).snoozed_until is None
    answer = await harness.click("ou_planner", snooze)
    assert answer["toast"]["type"] == "success"
    until = (await get_task(bot, task.id)).snoozed_until
    assert until == at(2026, 12, 7, 9, 30).astimezone(UTC)  # the next working morning
    # Monday 09:30 the snooze is over: the overdue step goes to both, as if never snoozed
    assert sorted(await round_at(bot, at(2026, 12, 7, 9, 30))) == ["ou_manager", "ou_planner"]
    # a snooze that lasts over the escalation day: the manager and director still hear
    await set_task(bot, task.id, snoozed_until=at(2026, 12, 9, 12).astimezone(UTC))
    assert sorted(await round_at(bot, at(2026, 12, 9, 10))) == ["ou_director", "ou_manager"]
    assert list(await round_at(bot, at(2026, 12, 9, 12, 30))) == ["ou_planner"]  # then them


async def test_mark_done_is_for_the_assignee_or_an_admin_and_stops_reminders(harness):
    bot = harness.bot
    await clear_tasks(bot)
    prep = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    plan = await add_task(bot, PLAN, "ou_planner", at(2026, 12, 4, 18))
    other = await add_task(bot, PREP, "ou_planner", at(2026, 12, 11, 18), period_key="other")
    done = {"a": "task.done", "v": 1, "t": prep.id}
    assert (await harness.click("ou_brand", done))["toast"]["type"] == "warning"
    assert (await harness.click("ou_stranger", done))["toast"]["type"] == "warning"
    assert (await get_task(bot, prep.id)).status == TaskStatus.OPEN
    answer = await harness.click("ou_planner", done)
    assert answer["toast"]["type"] == "success"
    row = await get_task(bot, prep.id)
    assert row.status == TaskStatus.DONE and row.done_at is not None
    assert (await harness.click("ou_planner", done))["toast"]["type"] == "info"  # twice: no-op
    # a report duty cannot be marked done
    refused = await harness.click("ou_planner", {"a": "task.done", "v": 1, "t": plan.id})
    assert refused["toast"]["type"] == "warning"
    assert (await get_task(bot, plan.id)).status == TaskStatus.OPEN
    # an admin may mark someone's task done
    admin = await harness.click("ou_director", {"a": "task.done", "v": 1, "t": other.id})
    assert admin["toast"]["type"] == "success"
    cards = await round_at(bot, at(2026, 12, 4, 10))
    assert "物料制作" not in text_of(cards["ou_planner"])  # only the report task is left
    missing = await harness.click("ou_planner", {"a": "task.done", "v": 1, "t": 999999})
    assert missing["toast"]["type"] == "warning"


async def test_rerunning_a_tick_changes_nothing(harness):
    bot = harness.bot
    when = at(2026, 12, 7, 10)
    first = await run_tick(bot, when.astimezone(UTC))
    assert first.errors == [] and first.reminders.cards > 0
    count = len(await outbox(bot))
    async with bot.sessions() as s:
        markers = (await s.exec(select(func.count()).select_from(Marker))).one()
    for _ in range(3):
        again = await run_tick(bot, when.astimezone(UTC))
        assert (
            again.reminders.cards == 0 and again.digests.sent == 0 and again.periodic_created == 0
        )
    assert len(await outbox(bot)) == count
    async with bot.sessions() as s:
        assert (await s.exec(select(func.count()).select_from(Marker))).one() == markers


async def test_concurrent_ticks_in_one_process_do_not_double(harness):
    bot = harness.bot
    when = at(2026, 12, 7, 10).astimezone(UTC)
    reports = await asyncio.gather(*(run_tick(bot, when) for _ in range(4)))
    assert all(r.errors == [] for r in reports)
    rows = await outbox(bot)
    assert len({r.uuid for r in rows}) == len(rows)
    reminders = [r.receive_id for r in rows if title(content(r)).startswith("提醒")]
    assert len(reminders) == len(set(reminders)) >= 5  # one reminder card each
    assert sum(r.reminders.cards for r in reports) == len(reminders)
    notices = [r.receive_id for r in rows if "日历" in title(content(r))]
    assert sorted(notices) == ["ou_director", "ou_manager"]  # the 2027 notice, once


async def test_crash_between_claim_and_send_then_after_send(harness):
    bot, emu = harness.bot, harness.emulator
    harness.clock.set(at(2026, 12, 7, 10))
    await run_tick(bot, harness.clock.now())
    rows = await outbox(bot)
    assert len(rows) >= 5
    # a worker claims everything and dies before sending
    async with bot.sessions() as s:
        claimed = await claim(s, OutboundMessage, harness.clock.now(), timedelta(minutes=2), 1000)
    assert len(claimed) == len(rows)
    assert await bot.outbox.drain() == 0 and emu.messages == []  # leased: nobody else sends
    # another crash: this one after Feishu took the message, before it was marked sent
    first = claimed[0]
    await bot.gateway.send(
        first.receive_id_type, first.receive_id, first.msg_type, first.content, first.uuid
    )
    assert len(emu.messages) == 1
    harness.clock.advance(timedelta(minutes=3))  # the leases end
    sent = await bot.outbox.drain()
    assert sent == len(rows)
    assert len(emu.messages) == len(rows)  # each exactly once
    assert len({m.uuid for m in emu.messages}) == len(rows)
    assert emu.stats["uuid_hits"] == 1  # the re-send of the first was recognised
    async with bot.sessions() as s:
        statuses = (await s.exec(select(OutboundMessage.status))).all()
    assert set(statuses) == {"sent"}


async def test_in_process_scheduler_ticks_with_the_injected_clock_and_stops(harness):
    bot = harness.bot
    harness.clock.set(at(2026, 12, 7, 10))
    scheduler = Scheduler(bot, interval=0.05)
    scheduler.start()
    await wait_until(lambda: scheduler.last is not None, what="a scheduler tick")
    await scheduler.stop()
    assert scheduler.last is not None and scheduler.last.at == harness.clock.now()
    assert scheduler.last.errors == []
    assert scheduler._task.done()
    reminders = [r for r in await outbox(bot) if title(content(r)).startswith("提醒")]
    assert len(reminders) >= 5  # the first tick planned the round; later ones found it done
    await harness.settle()
    assert any(m.receive_id == "ou_manager" for m in harness.emulator.messages)


def test_tick_command_runs_one_pass_and_sends_through_the_gateway(run_cli, emulator):
    assert run_cli("org", "sync", str(TEAM_FILE)).returncode == 0
    offline = run_cli("tick", "--now", "2026-12-04T17:30:00+08:00")
    assert offline.returncode == 0, offline.stderr
    assert "tick at 2026-12-04T17:30:00+08:00" in offline.stdout
    assert "digests: 1 sent" in offline.stdout  # the weekly one
    assert "messages wait in the outbox" in offline.stdout
    again = run_cli("tick", "--now", "2026-12-04T17:31:00+08:00")
    assert "reminders: 0 card(s)" in again.stdout and "digests: 0 sent" in again.stdout
    env = {
        "FEISHU_APP_ID": fe.APP_ID,
        "FEISHU_APP_SECRET": fe.APP_SECRET,
        "FEISHU_VERIFICATION_TOKEN": fe.VERIFICATION_TOKEN,
        "FEISHU_ENCRYPT_KEY": fe.ENCRYPT_KEY,
        "FEISHU_DOMAIN": emulator.base_url,
    }
    online = run_cli("tick", "--now", "2026-12-07T09:45:00+08:00", env=env)
    assert online.returncode == 0, online.stderr
    # Monday: the new round, plus everything the offline ticks had queued
    assert "reminders:" in online.stdout and "message(s) handled" in online.stdout
    assert len(emulator.messages) >= 9
    assert len({m.uuid for m in emulator.messages}) == len(emulator.messages)
    digests = [m for m in emulator.messages if m.receive_id == "oc_team"]
    assert len(digests) == 1
    bad = run_cli("tick", "--now", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
