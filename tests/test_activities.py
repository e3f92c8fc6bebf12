"""Activities end to end: the "new activity" form in chat (the manager may, a planner may
not), the announcements it causes, moving and cancelling, the what's-due card's task
buttons, leave in chat, and the CLI (`activity add/list/move/cancel`, `tasks list`)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

from sqlmodel import select

from bot.services.activities import cancel_activity, move_activity
from cards.schema import validate_card
from storage.models import Activity, Leave, TaskStatus
from tests import feishu_events as fe
from tests.conftest import TEAM_FILE
from tests.sched_helpers import (
    SH,
    button_values,
    buttons,
    content,
    new_activity,
    outbox,
    set_task,
    tasks_of,
    text_of,
    title,
)

ROOT = Path(__file__).resolve().parent.parent

FORM = {
    "title": "春季新品发布会",
    "mode": "offline",
    "start": "2027-03-15 +0800",
    "end": "2027-03-16 +0800",
    "budget": "50,000",
    "owner": "ou_planner",
    "expected": "200",
}


def submit_value(card: dict) -> dict:
    (btn,) = [b for b in buttons(card) if b.get("form_action_type") == "submit"]
    return btn["behaviors"][0]["value"]


async def test_manager_creates_an_activity_in_chat_and_everyone_is_told(harness):
    await harness.say("新建活动", sender="ou_manager")
    (form_msg,) = harness.emulator.messages
    form = form_msg.card
    assert validate_card(form) == []
    names = {el.get("name") for el in form["body"]["elements"][1]["elements"]}
    assert {"title", "mode", "start", "end", "budget", "owner", "expected"} <= names
    value = submit_value(form)
    assert value["a"] == "activity.create"
    answer = await harness.click("ou_manager", value, form_value=FORM)
    assert answer["toast"]["type"] == "success", answer
    assert validate_card(answer["card"]["data"]) == []
    assert "春季新品发布会" in text_of(answer["card"]["data"])
    async with harness.bot.sessions() as s:
        (activity,) = (await s.exec(select(Activity))).all()
    assert (activity.start_date, activity.end_date) == (date(2027, 3, 15), date(2027, 3, 16))
    assert (activity.budget, activity.expected_attendance, activity.mode) == (50000, 200, "offline")
    tasks = await tasks_of(harness.bot, activity_id=activity.id)
    by_person: dict[str, set[str]] = {}
    for t in tasks:
        by_person.setdefault(t.assignee_open_id, set()).add(t.duty_key)
        assert t.period_key == f"act:{activity.id}"
    assert by_person == {
        "ou_planner": {"planner.activity_plan", "planner.preparation", "planner.execution_report"},
        "ou_manager": {"manager.plan_approval", "manager.spend_review", "manager.retrospective"},
        "ou_digital": {"digital.promotion_plan", "digital.traffic_report"},
        "ou_research": {"research.audience_research"},
    }
    sent = harness.emulator.messages[1:]
    cards = {m.receive_id: m.card for m in sent if m.msg_type == "interactive"}
    for who in ("ou_planner", "ou_manager", "ou_digital", "ou_research", "oc_team"):
        assert who in cards, who
        assert validate_card(cards[who]) == []
    assert len([m for m in sent if m.receive_id == "ou_planner"]) == 1  # one card per person
    planner = cards["ou_planner"]
    assert title(planner).startswith("新任务")
    plan = next(t for t in tasks if t.duty_key == "planner.activity_plan")
    prep = next(t for t in tasks if t.duty_key == "planner.preparation")
    assert {"a": "report.open", "v": 1, "t": plan.id} in button_values(planner)
    assert {"a": "task.done", "v": 1, "t": prep.id} in button_values(planner)
    assert "2027-02-13" not in text_of(planner)  # dates are shown as 02-12 周五 etc.
    team = text_of(cards["oc_team"])
    assert "活动计划" in title(cards["oc_team"]) and "赵数字" in team and "孙调研" in team
    # a second click on the same form (a double submit) creates nothing more
    again = await harness.click("ou_manager", value, form_value=FORM)
    assert again["toast"]["type"] == "info"
    async with harness.bot.sessions() as s:
        assert len((await s.exec(select(Activity))).all()) == 1


async def test_a_planner_may_not_create_activities(harness):
    await harness.say("new activity", sender="ou_planner")
    (msg,) = harness.emulator.messages
    assert "manager" in text_of(msg.card) and not [
        b for b in buttons(msg.card) if b.get("form_action_type")
    ]
    # a forged submit from the planner is refused on the operator, not on the value
    forged = await harness.click(
        "ou_planner", {"a": "activity.create", "v": 1, "n": "x"}, form_value=FORM
    )
    assert forged["toast"]["type"] == "warning"
    async with harness.bot.sessions() as s:
        assert (await s.exec(select(Activity))).all() == []


async def test_bad_form_input_is_explained_and_nothing_is_created(harness):
    bad = {**FORM, "end": "2027-03-01 +0800", "owner": "ou_nobody"}
    answer = await harness.click(
        "ou_manager", {"a": "activity.create", "v": 1, "n": "n1"}, form_value=bad
    )
    assert answer["toast"]["type"] == "error"
    assert "结束日期早于开始日期" in answer["toast"]["content"]
    assert "负责人不在团队名单中" in answer["toast"]["content"]
    async with harness.bot.sessions() as s:
        assert (await s.exec(select(Activity))).all() == []
    fixed = await harness.click(
        "ou_manager", {"a": "activity.create", "v": 1, "n": "n1"}, form_value=FORM
    )
    assert fixed["toast"]["type"] == "success"  # the same form can be corrected and sent


async def test_move_replans_open_tasks_and_cancel_keeps_delivered_work(harness):
    bot = harness.bot
    change = await new_activity(bot, date(2027, 3, 15), date(2027, 3, 16))
    tasks = {t.duty_key: t for t in change.tasks}
    plan, prep = tasks["planner.activity_plan"], tasks["planner.preparation"]
    await set_task(bot, plan.id, status=TaskStatus.APPROVED)
    before = len(await outbox(bot))
    async with bot.sessions() as s:
        moved = await move_activity(
            s,
            bot.services,
            bot.clock.now(),
            change.activity.id,
            date(2027, 4, 12),
            date(2027, 4, 12),
            actor="ou_manager",
        )
        await s.commit()
    assert plan.id not in {t.id for t in moved.tasks}  # delivered work is not touched
    after = {t.duty_key: t for t in await tasks_of(bot, activity_id=change.activity.id)}
    assert after["planner.activity_plan"].due_at == plan.due_at
    # T-15 from Mon 04-12 = Sun 03-28 -> Fri 03-26 (2027: weekends only)
    assert after["planner.preparation"].due_at.astimezone(SH).date() == date(2027, 3, 26)
    assert after["planner.preparation"].due_at != prep.due_at
    new_rows = (await outbox(bot))[before:]
    assert {r.receive_id for r in new_rows} >= {"ou_planner", "ou_manager", "oc_team"}
    moved_card = next(content(r) for r in new_rows if r.receive_id == "ou_planner")
    assert "活动改期" in title(moved_card) and "原为" in text_of(moved_card)
    async with bot.sessions() as s:
        cancelled = await cancel_activity(
            s, bot.services, bot.clock.now(), change.activity.id, actor="ou_manager"
        )
        await s.commit()
    assert plan.id not in {t.id for t in cancelled.tasks}
    final = {t.duty_key: t.status for t in await tasks_of(bot, activity_id=change.activity.id)}
    assert final.pop("planner.activity_plan") == TaskStatus.APPROVED
    assert set(final.values()) == {TaskStatus.CANCELLED}


async def test_whats_due_card_has_a_button_per_task(harness):
    bot = harness.bot
    change = await new_activity(bot, date(2026, 12, 28), date(2026, 12, 28))
    await harness.say("待办", sender="ou_planner")
    (card,) = [m.card for m in harness.emulator.messages if title(m.card).startswith("待办")]
    assert validate_card(card) == []
    values = button_values(card)
    by_duty = {t.duty_key: t.id for t in change.tasks if t.assignee_open_id == "ou_planner"}
    assert {"a": "report.open", "v": 1, "t": by_duty["planner.activity_plan"]} in values
    assert {"a": "task.done", "v": 1, "t": by_duty["planner.preparation"]} in values
    assert values[-1]["a"] == "due.refresh"
    assert "新品发布会" in text_of(card)  # the activity's title is shown with its tasks
    answer = await harness.click(
        "ou_planner", {"a": "task.done", "v": 1, "t": by_duty["planner.preparation"]}
    )
    assert answer["toast"]["type"] == "success"


async def test_admin_records_and_cancels_leave_in_chat(harness):
    await harness.say("请假 王策划 2026-12-01 2026-12-05", sender="ou_manager")
    assert "已登记" in harness.emulator.messages[-1].text
    await harness.say(
        "@_user_1 leave @_user_2 2026-12-10",
        sender="ou_director",
        chat_type="group",
        mentions=[
            fe.bot_mention(),
            {"key": "@_user_2", "id": {"open_id": "ou_brand"}, "name": "陈品牌"},
        ],
    )
    assert "Recorded: 陈品牌" in harness.emulator.messages[-1].text  # English, despite the name
    await harness.say("请假 王策划 2026-12-01 2026-12-05", sender="ou_planner")  # not an admin
    assert "只有管理员" in text_of(harness.emulator.messages[-1].card)
    async with harness.bot.sessions() as s:
        spans = {
            (lv.open_id, lv.start_date, lv.end_date) for lv in (await s.exec(select(Leave))).all()
        }
    assert spans == {
        ("ou_planner", date(2026, 12, 1), date(2026, 12, 5)),
        ("ou_brand", date(2026, 12, 10), date(2026, 12, 10)),
    }
    await harness.say("销假 王策划", sender="ou_manager")
    async with harness.bot.sessions() as s:
        left = {lv.open_id for lv in (await s.exec(select(Leave))).all()}
    assert left == {"ou_brand"}


async def test_team_file_leave_is_stored(harness, tmp_path):
    from storage.org import apply_team, load_team_file

    text = TEAM_FILE.read_text(encoding="utf-8").replace(
        'role = "planner"\n', 'role = "planner"\nleave = [["2026-12-01", "2026-12-05"]]\n'
    )
    path = tmp_path / "team.toml"
    path.write_text(text, encoding="utf-8")
    team = load_team_file(path, set(harness.bot.policy.roles))
    for expected in (1, 0):  # idempotent
        async with harness.bot.sessions() as s:
            report = await apply_team(s, team, harness.bot.clock.now())
            await s.commit()
        assert len([c for c in report.changes if c.startswith("+ leave")]) == expected
    async with harness.bot.sessions() as s:
        (leave,) = (await s.exec(select(Leave))).all()
    assert (leave.open_id, leave.start_date, leave.end_date) == (
        "ou_planner",
        date(2026, 12, 1),
        date(2026, 12, 5),
    )


def test_activity_commands(run_cli, tmp_path):
    assert run_cli("org", "sync", str(TEAM_FILE)).returncode == 0
    add = run_cli(
        "activity",
        "add",
        "--title",
        "城市路演",
        "--start",
        "2027-05-10",
        "--end",
        "2027-05-11",
        "--owner",
        "ou_planner",
        "--budget",
        "80000",
        "--mode",
        "hybrid",
        "--expected",
        "300",
    )
    assert add.returncode == 0, add.stderr
    assert "activity 1 created: 城市路演" in add.stdout
    assert "9 task(s):" in add.stdout
    assert "planner.activity_plan" in add.stdout and "2027-04-09T18:00:00+08:00" in add.stdout
    assert "5 message(s) queued" in add.stdout  # 4 assignees + the team chat
    listed = run_cli("tasks", "list", "--assignee", "ou_digital", "--json")
    rows = [r for r in json.loads(listed.stdout) if r["activity_id"] == 1]
    assert [r["duty_key"] for r in rows] == ["digital.promotion_plan", "digital.traffic_report"]
    row = rows[0]
    assert row["activity"] == "城市路演" and row["status"] == "open"
    assert row["due"] == "2027-04-23T18:00:00+08:00"  # T-15 = Sun 04-25 -> Fri 04-23
    assert row["assignee"] == "ou_digital" and row["assignee_name"] == "赵数字"
    everyone = json.loads(run_cli("tasks", "list", "--json").stdout)
    assert len(everyone) > len(rows) and all(
        r["status"] in ("open", "submitted", "rejected") for r in everyone
    )
    db = sqlite3.connect(tmp_path / "dutybot.db")
    db.execute("UPDATE tasks SET status='done' WHERE duty_key='digital.promotion_plan'")
    db.commit()
    moved = run_cli("activity", "move", "1", "--start", "2027-06-07", "--end", "2027-06-07")
    assert moved.returncode == 0, moved.stderr
    assert "re-planned" in moved.stdout and "digital.promotion_plan" not in moved.stdout
    (done_due,) = db.execute(
        "SELECT due_at FROM tasks WHERE duty_key='digital.promotion_plan'"
    ).fetchone()
    assert done_due.startswith("2027-04-23")  # done work keeps its date (stored in UTC)
    listing = run_cli("activity", "list")
    assert "2027-06-07" in listing.stdout and "城市路演" in listing.stdout
    cancelled = run_cli("activity", "cancel", "1")
    assert "8 open task(s) cancelled" in cancelled.stdout
    statuses = dict(db.execute("SELECT duty_key, status FROM tasks WHERE activity_id=1").fetchall())
    assert statuses.pop("digital.promotion_plan") == "done"
    assert set(statuses.values()) == {"cancelled"}
    bad = run_cli(
        "activity",
        "add",
        "--title",
        "x",
        "--start",
        "2027-05-10",
        "--end",
        "2027-05-01",
        "--owner",
        "ou_ghost",
    )
    assert bad.returncode == 2 and "before the start" in bad.stderr and "ou_ghost" in bad.stderr
    assert "Traceback" not in bad.stderr
