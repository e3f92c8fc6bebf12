"""The Feishu Tasks mirror (DUTYBOT_FEISHU_TASKS=on), end to end: the bot behind its
signed webhook, the real lark-oapi SDK, the emulator's Tasks v2. Every task DutyBot assigns
shows up in the assignee's Feishu Tasks with its due; done in DutyBot completes it there,
a moved deadline moves it, a hand-off changes its assignee, a cancelled duty leaves. Off
by default: then DutyBot never calls the task API."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlmodel import select

from bot.app import build_app
from bot.config import ConfigError, Settings
from bot.jobs.scheduler import run_tick
from bot.services.activities import cancel_activity, move_activity
from storage.models import FeishuTaskLink, OutboundMessage, TaskStatus
from tests import feishu_events as fe
from tests.conftest import Harness, make_settings, sync_team
from tests.sched_helpers import add_task, at, clear_tasks, new_activity, set_task, tasks_of

PREP = "planner.preparation"  # a "mark done" duty


def ms(dt) -> str:
    return str(int(dt.timestamp() * 1000))


def task_calls(emulator) -> list[dict]:
    return [r for r in emulator.requests if r["api"].startswith("task.")]


async def feishu_task_of(h: Harness, task_id: int):
    async with h.bot.sessions() as s:
        link = await s.get(FeishuTaskLink, task_id)
    assert link is not None and link.guid, f"task {task_id} was not mirrored"
    return h.emulator.tasks.get(link.guid)


async def test_every_assigned_task_appears_in_the_assignees_feishu_tasks(mirrored):
    h = mirrored
    await h.settle()
    open_tasks = await tasks_of(h.bot, statuses=TaskStatus.OPEN_STATES)
    assert open_tasks, "org sync assigns the current periods' tasks"
    feishu = h.emulator.tasks.all()
    assert len(feishu) == len(open_tasks)
    task = open_tasks[0]
    mirrored_task = await feishu_task_of(h, task.id)
    assert mirrored_task.assignees == [task.assignee_open_id]
    assert mirrored_task.due == {"timestamp": ms(task.due_at), "is_all_day": False}
    assert task.period_key in mirrored_task.summary
    duty = h.bot.policy.duties[task.duty_key]
    assert duty.name("zh") in mirrored_task.summary
    assert duty.clause[:20] in mirrored_task.description  # links back to the clause
    assert "applink.feishu.cn/client/bot/open?appId=" in mirrored_task.description
    create = h.emulator.requests_for("task.v2.task.create")[0]
    assert create["query"] == {"user_id_type": "open_id"}
    assert create["json"]["client_token"].startswith("dutybot-task-")
    assert create["json"]["members"][0] == {
        "id": create["json"]["members"][0]["id"],
        "type": "user",
        "role": "assignee",
    }
    # Nothing changes, nothing is sent again.
    before = len(task_calls(h.emulator))
    h.bot.wake_outbox()
    await h.settle()
    assert len(task_calls(h.emulator)) == before


async def test_a_create_retried_after_a_server_error_makes_one_task(mirrored):
    h = mirrored
    await clear_tasks(h.bot)
    await h.settle()
    # Feishu creates the task but the answer is lost (500): the retry sends the same
    # client_token and gets the same task back.
    h.emulator.fail_after_commit("task.v2.task.create", status=500)
    task = await add_task(h.bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    h.bot.wake_outbox()
    await h.settle()
    creates = h.emulator.requests_for("task.v2.task.create")
    assert len(creates) == 2 and creates[0]["status"] == 500
    assert creates[0]["json"]["client_token"] == creates[1]["json"]["client_token"]
    (only,) = h.emulator.tasks.all()
    assert (await feishu_task_of(h, task.id)).guid == only.guid


async def test_marking_done_in_chat_completes_the_feishu_task(mirrored):
    h = mirrored
    await clear_tasks(h.bot)
    task = await add_task(h.bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    h.bot.wake_outbox()
    await h.settle()
    assert not (await feishu_task_of(h, task.id)).completed
    # Snoozing holds the reminders back; the deadline stays, so Feishu is not called.
    await h.click("ou_planner", {"a": "task.snooze", "v": 1, "t": task.id})
    assert h.emulator.requests_for("task.v2.task.patch") == []
    answer = await h.click("ou_planner", {"a": "task.done", "v": 1, "t": task.id})
    assert answer["toast"]["type"] == "success"
    done = await feishu_task_of(h, task.id)
    assert done.completed and done.completed_at == ms(h.clock.now())
    (patch,) = h.emulator.requests_for("task.v2.task.patch")
    assert patch["json"]["update_fields"] == ["completed_at"]
    assert patch["query"] == {"user_id_type": "open_id"}


async def test_moving_an_activity_moves_the_due_and_cancelling_removes_the_tasks(mirrored):
    h, bot = mirrored, mirrored.bot
    change = await new_activity(bot, date(2027, 3, 15), date(2027, 3, 16))
    await h.settle()
    prep = next(t for t in change.tasks if t.duty_key == PREP)
    before = await feishu_task_of(h, prep.id)
    assert before.due["timestamp"] == ms(prep.due_at)
    async with bot.sessions() as s:
        await move_activity(
            s,
            bot.services,
            bot.clock.now(),
            change.activity.id,
            date(2027, 4, 12),
            date(2027, 4, 12),
            actor="ou_manager",
        )
        await s.commit()
    bot.wake_outbox()
    await h.settle()
    (moved,) = [t for t in await tasks_of(bot, activity_id=change.activity.id) if t.id == prep.id]
    after = await feishu_task_of(h, prep.id)
    assert after.guid == before.guid and after.due["timestamp"] == ms(moved.due_at)
    assert after.due != before.due
    async with bot.sessions() as s:
        await cancel_activity(
            s, bot.services, bot.clock.now(), change.activity.id, actor="ou_manager"
        )
        await s.commit()
    bot.wake_outbox()
    await h.settle()
    assert h.emulator.tasks.get(before.guid) is None
    assert before.guid in {t.guid for t in h.emulator.tasks.deleted()}


async def test_a_leavers_tasks_are_handed_over_in_feishu_too(mirrored):
    h = mirrored
    await h.settle()
    mine = await tasks_of(h.bot, statuses=TaskStatus.OPEN_STATES)
    mine = [t for t in mine if t.assignee_open_id == "ou_brand"]
    assert mine, "the brand specialist has periodic work"
    resp = await h.post(fe.user_deleted("ou_brand", "陈品牌", h.clock.now()))
    assert resp.status == 200
    await h.settle()
    for task in mine:
        assert (await feishu_task_of(h, task.id)).assignees == ["ou_manager"]
    assert len(h.emulator.requests_for("task.v2.task.add_members")) == len(mine)
    assert len(h.emulator.requests_for("task.v2.task.remove_members")) == len(mine)


async def test_the_ticks_new_periods_appear_in_feishu_tasks(mirrored):
    h = mirrored
    await h.settle()
    before = len(h.emulator.tasks.all())
    h.clock.advance(timedelta(days=40, hours=12))  # 22:00: no reminders to wait for
    report = await run_tick(h.bot, h.clock.now())
    assert report.periodic_created > 0
    h.bot.wake_outbox()
    await h.settle()
    open_now = await tasks_of(h.bot, statuses=TaskStatus.OPEN_STATES)
    assert len(h.emulator.tasks.all()) == len(open_now) > before


async def test_a_change_queued_before_the_create_went_through_waits_for_it(mirrored):
    h = mirrored
    await clear_tasks(h.bot)
    h.bot.gateway.attempts = 1  # no inline retries: the outbox's schedule retries
    h.emulator.fail_next("task.v2.task.create", status=503)
    task = await add_task(h.bot, PREP, "ou_planner", at(2026, 12, 4, 18))
    h.bot.wake_outbox()
    await h.settle()
    assert h.emulator.tasks.all() == []
    await h.click("ou_planner", {"a": "task.done", "v": 1, "t": task.id})
    assert h.emulator.tasks.all() == []  # the create waits for its retry, the patch for it
    async with h.bot.sessions() as s:
        rows = (
            await s.exec(select(OutboundMessage).where(OutboundMessage.lane == "feishu-tasks"))
        ).all()
    assert {r.kind: r.status for r in rows} == {"task_create": "pending", "task_patch": "pending"}
    h.clock.advance(timedelta(minutes=1))
    await h.settle()
    h.clock.advance(timedelta(minutes=1))
    await h.settle()
    assert (await feishu_task_of(h, task.id)).completed


async def test_a_missing_scope_is_reported_once_and_chat_answers_still_go_out(mirrored):
    h = mirrored
    await clear_tasks(h.bot)
    h.emulator.fail_next(
        "task.v2.task.create", status=400, code=99991672, msg="app lacks task:task:write", times=3
    )
    for day in (3, 4, 7):
        await add_task(h.bot, PREP, "ou_planner", at(2026, 12, day, 18))
    h.bot.wake_outbox()
    await h.settle()
    assert h.emulator.tasks.all() == []
    counts = h.bot.outbox.reporter.counts
    assert counts[("task", "permanent")] == 3
    alerts = [m for m in h.emulator.messages if "Messages not delivered" in str(m.card or "")]
    assert {m.receive_id for m in alerts} == {"ou_director", "ou_manager"}  # once per admin
    assert "飞书任务同步" in str(alerts[0].card)
    await h.say("待办", sender="ou_planner")  # the chat still answers
    assert any(m.receive_id.endswith("ou_planner") for m in h.emulator.messages[-1:])
    # Marking one done later does not report again: its create never went through.
    (first, *_) = await tasks_of(h.bot, statuses=TaskStatus.OPEN_STATES)
    await h.click("ou_planner", {"a": "task.done", "v": 1, "t": first.id})
    assert counts[("task", "permanent")] == 3
    assert h.emulator.requests_for("task.v2.task.patch") == []
    # The admin adds the scope and restarts DutyBot: the refused creates go again.
    h.bot.task_mirror.retry_refused = True  # what a fresh start does
    h.bot.wake_outbox()
    await h.settle()
    open_now = await tasks_of(h.bot, statuses=TaskStatus.OPEN_STATES)
    assert len(h.emulator.tasks.all()) == len(open_now) == 2


async def test_off_by_default_no_task_api_calls(harness):
    await harness.settle()
    (task, *_) = await tasks_of(harness.bot, statuses=TaskStatus.OPEN_STATES)
    await harness.click(task.assignee_open_id, {"a": "task.done", "v": 1, "t": task.id})
    assert harness.bot.task_mirror is None
    assert task_calls(harness.emulator) == []


def test_the_setting_is_on_or_off():
    base = {"FEISHU_APP_ID": "cli_x", "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": "t"}
    assert Settings.from_env(base).feishu_tasks is False
    assert Settings.from_env({**base, "DUTYBOT_FEISHU_TASKS": "on"}).feishu_tasks is True
    with pytest.raises(ConfigError) as bad:
        Settings.from_env({**base, "DUTYBOT_FEISHU_TASKS": "maybe"})
    assert "DUTYBOT_FEISHU_TASKS" in str(bad.value)
    with pytest.raises(ConfigError) as alone:
        Settings.from_env({"DUTYBOT_FEISHU_TASKS": "on"})
    assert "needs FEISHU_APP_ID" in str(alone.value)


async def test_two_replicas_mirroring_at_once_queue_each_call_once_on_postgres(
    pg_url, emulator, clock
):
    from storage import db

    engine = db.make_engine(pg_url)
    await db.upgrade(engine)
    await engine.dispose()
    settings = make_settings(pg_url, emulator.base_url, feishu_tasks=True)
    one, two = build_app(settings, clock=clock), build_app(settings, clock=clock)
    await one.start()
    await two.start()
    try:
        await sync_team(one)
        await asyncio.gather(one.task_mirror.sync(), two.task_mirror.sync())
        open_tasks = await tasks_of(one, statuses=TaskStatus.OPEN_STATES)
        (task, *_) = open_tasks
        await set_task(one, task.id, status=TaskStatus.DONE, done_at=clock.now())
        await asyncio.gather(one.task_mirror.sync(), two.task_mirror.sync())
        async with one.sessions() as s:
            rows = (
                await s.exec(select(OutboundMessage).where(OutboundMessage.lane == "feishu-tasks"))
            ).all()
        kinds = [r.kind for r in rows]
        assert kinds.count("task_create") == len(open_tasks)
        assert kinds.count("task_patch") == 1
        await asyncio.gather(one.outbox.drain(), two.outbox.drain())
        assert len(emulator.tasks.all()) == len(open_tasks)
        assert sum(t.completed for t in emulator.tasks.all()) == 1
    finally:
        await one.stop()
        await two.stop()


async def test_a_rejected_report_moves_the_due_and_approval_completes_it(mirrored):
    from datetime import datetime

    from storage.models import Report, Task
    from tests.conftest import SHANGHAI
    from tests.test_reports import apply, button_value, cards_to, one, submit_weekly_by_form

    h = mirrored
    await submit_weekly_by_form(h)
    (approval,) = cards_to(h, "ou_director")
    answer = await h.click(
        "ou_director",
        button_value(approval.card, "report.reject"),
        message_id=approval.message_id,
        form_value={"comment": "请补充风险细节"},
        name="report_reject",
    )
    apply(h, approval.message_id, answer)
    report = await one(h, Report)
    task = await one(h, Task, Task.id == report.task_id)
    redo = datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)
    assert task.status == "rejected" and task.due_at == redo
    mirrored_task = await feishu_task_of(h, task.id)
    assert mirrored_task.due["timestamp"] == ms(redo) and not mirrored_task.completed
    await set_task(h.bot, task.id, status=TaskStatus.APPROVED)  # approved after the redo
    h.bot.wake_outbox()
    await h.settle()
    assert (await feishu_task_of(h, task.id)).completed


async def test_the_emulator_checks_task_bodies_like_feishu(raw):
    base = "/open-apis/task/v2/tasks"
    q = {"user_id_type": "open_id"}
    due = {"timestamp": "1764583200000", "is_all_day": False}
    member = {"id": "ou_a", "type": "user", "role": "assignee"}
    status, _, body = await raw.call("POST", base, json_body={"due": due}, params=q)
    assert (status, body["code"]) == (400, 1470400) and "summary" in body["msg"]
    bad_due = {"summary": "x", "due": {"timestamp": 1764583200000}}
    status, _, body = await raw.call("POST", base, json_body=bad_due, params=q)
    assert body["code"] == 1470400 and "due.timestamp" in body["msg"]
    good = {"summary": "周报", "due": due, "members": [member], "client_token": "dutybot-t-1"}
    _, _, first = await raw.call("POST", base, json_body=good, params=q)
    _, _, again = await raw.call("POST", base, json_body=good, params=q)
    guid = first["data"]["task"]["guid"]
    assert again["data"]["task"]["guid"] == guid and len(raw.emu.tasks.all()) == 1
    patch = {"task": {"completed_at": "1764583300000"}}
    status, _, body = await raw.call("PATCH", f"{base}/{guid}", json_body=patch, params=q)
    assert body["code"] == 1470400 and "update_fields" in body["msg"]
    patch["update_fields"] = ["completed_at"]
    status, _, body = await raw.call("PATCH", f"{base}/{guid}", json_body=patch, params=q)
    assert body["code"] == 0 and raw.emu.tasks.get(guid).completed
    other = {"members": [{"id": "ou_b", "type": "user", "role": "assignee"}]}
    await raw.call("POST", f"{base}/{guid}/add_members", json_body=other, params=q)
    await raw.call("POST", f"{base}/{guid}/remove_members", json_body={"members": [member]})
    assert raw.emu.tasks.get(guid).assignees == ["ou_b"]
    status, _, body = await raw.call("PATCH", f"{base}/nope", json_body=patch, params=q)
    assert (status, body["code"]) == (404, 1470404)
    assert [r["api"] for r in raw.emu.requests_for("task.v2.task.patch")] == [
        "task.v2.task.patch"
    ] * 3


def test_tick_from_cron_mirrors_the_tasks_too(run_cli, emulator, tmp_path):
    import sqlite3

    from tests.conftest import TEAM_FILE

    assert run_cli("org", "sync", str(TEAM_FILE)).returncode == 0
    env = {
        "FEISHU_APP_ID": fe.APP_ID,
        "FEISHU_APP_SECRET": fe.APP_SECRET,
        "FEISHU_VERIFICATION_TOKEN": fe.VERIFICATION_TOKEN,
        "FEISHU_DOMAIN": emulator.base_url,
        "DUTYBOT_FEISHU_TASKS": "on",
    }
    result = run_cli("tick", "--now", "2026-11-26T22:00:00+08:00", "--deliver-for", "5", env=env)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "dutybot.db") as db:
        opened = db.execute("select count(*) from tasks where status = 'open'").fetchone()[0]
        db.execute("update tasks set status = 'done', done_at = '2026-11-26 14:30:00' where id = 1")
    assert len(emulator.tasks.all()) == opened
    # Only the mirror has something to send now: the tick still connects and sends it.
    sent_before = len(emulator.messages)
    again = run_cli("tick", "--now", "2026-11-26T22:31:00+08:00", "--deliver-for", "5", env=env)
    assert "outbox: 1 message(s) handled" in again.stdout, again.stdout
    assert len(emulator.messages) == sent_before
    assert sum(t.completed for t in emulator.tasks.all()) == 1
