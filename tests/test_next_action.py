"""`tasks.next_action_at`: the tick reads only tasks whose next reminder action has come,
and the value follows every change to a task (created, moved, done, snoozed, handed off)
and to the team, so nobody misses a step and nobody hears one twice."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import update

from bot.jobs.scheduler import run_tick
from storage.models import Member
from storage.reminders import tasks_due_now
from tests.sched_helpers import (
    add_task,
    at,
    button_values,
    clear_tasks,
    get_task,
    set_task,
    tasks_of,
    text_of,
)
from tests.test_scheduler import PREP, round_at


async def due_now_ids(bot, when) -> set[int]:
    async with bot.sessions() as s:
        return {row.id for row in await tasks_due_now(s, when.astimezone(UTC))}


def utc(when):
    return when.astimezone(UTC)


async def test_each_round_moves_the_task_to_its_next_step_and_then_lets_go(harness):
    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))  # Friday 18:00
    assert task.id in await due_now_ids(bot, at(2026, 12, 2, 10))  # new: looked at once
    assert await round_at(bot, at(2026, 12, 2, 10)) == {}
    # nothing before the heads-up's morning (-1 working day, 09:30)
    assert (await get_task(bot, task.id)).next_action_at == utc(at(2026, 12, 3, 9, 30))
    assert await due_now_ids(bot, at(2026, 12, 3, 9, 29)) == set()
    assert list(await round_at(bot, at(2026, 12, 3, 9, 30))) == ["ou_planner"]
    assert (await get_task(bot, task.id)).next_action_at == utc(at(2026, 12, 4, 9, 30))
    assert await due_now_ids(bot, at(2026, 12, 3, 17)) == set()  # read nothing all day
    assert list(await round_at(bot, at(2026, 12, 4, 9, 30))) == ["ou_planner"]
    # +1 working day is Monday; +3 is Wednesday; then the ladder is over
    assert (await get_task(bot, task.id)).next_action_at == utc(at(2026, 12, 7, 9, 30))
    assert sorted(await round_at(bot, at(2026, 12, 7, 9, 30))) == ["ou_manager", "ou_planner"]
    assert (await get_task(bot, task.id)).next_action_at == utc(at(2026, 12, 9, 9, 30))
    assert len(await round_at(bot, at(2026, 12, 9, 9, 30))) == 3
    assert (await get_task(bot, task.id)).next_action_at is None
    assert await due_now_ids(bot, at(2026, 12, 21, 10)) == set()


async def test_periodic_tasks_are_created_with_their_first_step(harness):
    bot = harness.bot
    await clear_tasks(bot)
    report = await run_tick(bot, utc(at(2026, 12, 1, 20)))  # after hours: no round
    assert report.periodic_created > 0
    tasks = await tasks_of(bot)
    assert tasks and all(t.next_action_at is not None for t in tasks)
    for t in tasks:
        assert t.next_action_at.astimezone(at(2026, 1, 1).tzinfo).time().isoformat() == "09:30:00"
        assert t.next_action_at <= t.due_at
    now = utc(at(2026, 12, 1, 20))
    started = {t.id for t in tasks if t.next_action_at <= now}  # ladders already running
    assert await due_now_ids(bot, at(2026, 12, 1, 20)) == started
    assert len(started) < len(tasks)


async def test_a_moved_task_starts_its_new_ladder(harness):
    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 11, 18))  # next Friday
    assert await round_at(bot, at(2026, 12, 3, 10)) == {}
    assert (await get_task(bot, task.id)).next_action_at == utc(at(2026, 12, 10, 9, 30))
    # moved to tomorrow by any write (here a bare UPDATE that knows nothing of the ladder)
    await set_task(bot, task.id, due_at=utc(at(2026, 12, 4, 18)))
    assert task.id in await due_now_ids(bot, at(2026, 12, 3, 10, 1))
    cards = await round_at(bot, at(2026, 12, 3, 10, 1))
    assert list(cards) == ["ou_planner"] and "即将到期" in text_of(cards["ou_planner"])


async def test_done_tasks_are_never_read_again(harness):
    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    card = (await round_at(bot, at(2026, 12, 3, 10)))["ou_planner"]
    done = next(v for v in button_values(card) if v["a"] == "task.done")
    assert (await harness.click("ou_planner", done))["toast"]["type"] == "success"
    assert await due_now_ids(bot, at(2026, 12, 7, 10)) == set()
    assert await round_at(bot, at(2026, 12, 7, 10)) == {}
    assert (await get_task(bot, task.id)).status == "done"


async def test_a_snoozed_assignee_is_looked_at_again_when_the_snooze_ends(harness):
    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    await set_task(bot, task.id, snoozed_until=utc(at(2026, 12, 7, 14)))
    # Monday's overdue step: the manager hears it now, the planner at 14:00
    assert list(await round_at(bot, at(2026, 12, 7, 9, 30))) == ["ou_manager"]
    assert (await get_task(bot, task.id)).next_action_at == utc(at(2026, 12, 7, 14))
    assert await due_now_ids(bot, at(2026, 12, 7, 13, 59)) == set()
    assert list(await round_at(bot, at(2026, 12, 7, 14))) == ["ou_planner"]
    assert (await get_task(bot, task.id)).next_action_at == utc(at(2026, 12, 9, 9, 30))


async def test_a_handed_off_task_reaches_its_new_assignee_at_the_current_step(harness):
    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    assert list(await round_at(bot, at(2026, 12, 4, 9, 30))) == ["ou_planner"]
    await set_task(bot, task.id, assignee_open_id="ou_brand")
    cards = await round_at(bot, at(2026, 12, 4, 11))
    assert list(cards) == ["ou_brand"] and "今天到期" in text_of(cards["ou_brand"])
    assert await round_at(bot, at(2026, 12, 4, 12)) == {}


async def test_a_new_manager_hears_the_current_step(harness):
    bot = harness.bot
    await clear_tasks(bot)
    await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    assert sorted(await round_at(bot, at(2026, 12, 7, 9, 30))) == ["ou_manager", "ou_planner"]
    async with bot.sessions() as s:
        await s.exec(
            update(Member).where(Member.open_id == "ou_planner").values(manager_open_id="ou_crm")
        )
        await s.commit()
    assert list(await round_at(bot, at(2026, 12, 7, 11))) == ["ou_crm"]
    assert await round_at(bot, at(2026, 12, 7, 12)) == {}


async def test_the_minute_tick_skips_periodic_inserts_until_the_team_changes(harness):
    bot = harness.bot
    when = utc(at(2026, 12, 1, 20))
    await run_tick(bot, when)
    assert (await run_tick(bot, when)).periodic_created == 0  # nothing new: nothing written
    async with bot.sessions() as s:
        s.add(
            Member(
                open_id="ou_new", name="新人", role_key="manager", created_at=when, updated_at=when
            )
        )
        await s.commit()
    assert (await run_tick(bot, when)).periodic_created > 0
    assert [t for t in await tasks_of(bot) if t.assignee_open_id == "ou_new"]
