"""People change, end to end (signed webhooks, the emulator): someone leaves the company
or the team, or changes role; their open work moves to the one successor in the role or
to their manager, who (or an admin) can give it to someone else from the hand-off card;
departed people are shown by name, marked, wherever their history appears."""

from __future__ import annotations

import asyncio
import json

from storage.models import RECHECK, AuditLog, Member, OutboundMessage, Report, Task
from tests import feishu_events as fe
from tests.conftest import TEAM_FILE, run_cli_in
from tests.test_reports import (
    WEEKLY_FORM,
    add_execution_task,
    apply,
    button_value,
    cards_to,
    last_card,
    one,
    rows,
    submit_weekly_by_form,
    text_of,
)
from tests.test_team_chat import group_say
from tests.waiting import wait_until

MOVABLE = ("open", "rejected")


HANDOFF_TITLES = ("成员离职交接", "成员移出团队", "角色变更交接", "成员离开交接")


def handoff_cards(harness, open_id: str) -> list:
    """The hand-off cards (not the successors' notices) a member got."""
    return [
        m
        for m in cards_to(harness, open_id)
        if m.card["header"]["title"]["content"].startswith(HANDOFF_TITLES)
    ]


async def open_tasks(harness, open_id: str) -> list[Task]:
    found = await rows(harness, Task, Task.assignee_open_id == open_id)
    return [t for t in found if t.status in MOVABLE]


async def deliver(harness, payload: dict) -> None:
    resp = await harness.post(payload)
    assert resp.status == 200, await resp.text()
    await harness.settle()


async def test_a_member_who_leaves_the_company_hands_their_work_to_their_manager(harness):
    mine = await open_tasks(harness, "ou_brand")
    assert mine, "the brand specialist has periodic work"
    manager_before = {t.id for t in await open_tasks(harness, "ou_manager")}
    event = fe.user_deleted("ou_brand", "陈品牌", harness.clock.now())

    await deliver(harness, event)

    # nobody else holds the brand role: everything goes to their manager to reassign
    moved = await rows(harness, Task, Task.id.in_([t.id for t in mine]))
    assert {t.assignee_open_id for t in moved} == {"ou_manager"}
    assert all(t.next_action_at == RECHECK and t.snoozed_until is None for t in moved)
    assert not await open_tasks(harness, "ou_brand")
    assert {t.id for t in await open_tasks(harness, "ou_manager")} >= manager_before
    gone = await one(harness, Member, Member.open_id == "ou_brand")
    assert gone.active is False

    # one card to the manager, one to the other admin (the director), nobody else
    await wait_until(
        lambda: handoff_cards(harness, "ou_manager") and handoff_cards(harness, "ou_director"),
        what="the hand-off cards",
    )
    (card,) = handoff_cards(harness, "ou_manager")
    assert len(handoff_cards(harness, "ou_director")) == 1
    assert not any(handoff_cards(harness, p) for p in ("ou_brand", "ou_crm", "ou_planner"))
    text = text_of(card.card)
    assert "陈品牌" in text and "已离开公司" in text and "李经理" in text
    assert "待其重新分配" in text
    assert await rows(harness, AuditLog, AuditLog.action == "task.handed_over")

    # Feishu delivers the same event again: nothing changes, no new card
    sent = len(harness.emulator.messages)
    await deliver(harness, event)
    assert len(harness.emulator.messages) == sent
    again = await rows(harness, Task, Task.id.in_([t.id for t in mine]))
    assert [(t.assignee_open_id, t.status) for t in again] == [
        (t.assignee_open_id, t.status) for t in moved
    ]
    # and a later directory update saying she resigned finds nothing left to move
    await deliver(harness, fe.user_resigned("ou_brand", "陈品牌", harness.clock.now()))
    assert len(harness.emulator.messages) == sent


async def test_resigned_in_the_directory_hands_work_to_the_one_successor(harness):
    # a second planner joins; the first one's activity work will go to her
    await group_say(harness, "绑定 {} 市场策划专员", "ou_manager", ("ou_planner2", "钱策划"))
    activity_task = await add_execution_task(harness)
    harness.emulator.messages.clear()

    await deliver(harness, fe.user_resigned("ou_planner", "王策划", harness.clock.now()))

    moved = await one(harness, Task, Task.id == activity_task.id)
    assert moved.assignee_open_id == "ou_planner2" and moved.next_action_at == RECHECK
    (card,) = handoff_cards(harness, "ou_manager")
    text = text_of(card.card)
    assert "王策划" in text and "钱策划" in text and "同岗位接任" in text
    # the successor is told what is now hers
    told = [m for m in cards_to(harness, "ou_planner2") if "任务交接" in text_of(m.card)]
    assert len(told) == 1


async def test_work_the_successor_already_has_for_the_period_is_not_doubled(harness):
    await group_say(harness, "绑定 {} 品牌运营专员", "ou_manager", ("ou_brand2", "郑品牌"))
    theirs = await open_tasks(harness, "ou_brand")
    assert theirs and await open_tasks(harness, "ou_brand2")

    await deliver(harness, fe.user_deleted("ou_brand", "陈品牌", harness.clock.now()))

    # the newcomer has her own task for each of these periods: the leaver's are cancelled
    for task in await rows(harness, Task, Task.id.in_([t.id for t in theirs])):
        assert task.status == "cancelled" and task.next_action_at is None
    (card,) = handoff_cards(harness, "ou_manager")
    assert "已由 郑品牌 的同期任务覆盖" in text_of(card.card)


async def test_an_update_that_is_not_a_resignation_changes_nothing(harness):
    payload = fe.user_resigned("ou_planner", "王策划", harness.clock.now())
    payload["event"]["object"]["status"]["is_resigned"] = False
    await deliver(harness, payload)
    assert (await one(harness, Member, Member.open_id == "ou_planner")).active
    assert not harness.emulator.messages


async def test_a_directory_rename_names_a_member_added_by_open_id(harness):
    await harness.say("绑定 ou_newbie 市场调研专员", sender="ou_manager")  # private: by open_id
    assert (await one(harness, Member, Member.open_id == "ou_newbie")).name == "ou_newbie"
    payload = fe.user_resigned("ou_newbie", "刘洋", harness.clock.now())
    payload["event"]["object"]["status"]["is_resigned"] = False
    payload["event"]["old_object"] = {"name": "", "open_id": "ou_newbie"}
    await deliver(harness, payload)
    member = await one(harness, Member, Member.open_id == "ou_newbie")
    assert member.name == "刘洋" and member.active


async def test_malformed_contact_events_are_refused_cleanly(harness):
    now = harness.clock.now()
    bad = [
        fe.envelope("contact.user.deleted_v3", {"object": "ou_planner"}, now),
        fe.envelope("contact.user.deleted_v3", {"object": {"open_id": 7}}, now),
        fe.envelope(
            "contact.user.updated_v3", {"object": {"open_id": "ou_planner"}, "old_object": []}, now
        ),
        fe.envelope(
            "contact.user.updated_v3",
            {"object": {"open_id": "ou_planner", "status": {"is_resigned": "yes"}}},
            now,
        ),
    ]
    for payload in bad:
        resp = await harness.post(payload)
        assert resp.status == 200  # acknowledged (verified), refused at the boundary
    await harness.settle()
    assert harness.bot.stats.get("malformed") == len(bad)
    assert (await one(harness, Member, Member.open_id == "ou_planner")).active
    assert not harness.emulator.messages


async def test_the_manager_reassigns_from_the_card_and_others_are_refused(harness):
    await deliver(harness, fe.user_deleted("ou_brand", "陈品牌", harness.clock.now()))
    (card,) = handoff_cards(harness, "ou_manager")
    value = button_value(card.card, "handoff.reassign")
    task_id = value["ts"][0]

    # someone who is neither an admin nor the leaver's manager: refused, nothing moves
    refused = await harness.click(
        "ou_crm",
        value,
        message_id=card.message_id,
        form_value={"task": task_id, "to": "ou_crm"},
        name="handoff_reassign",
    )
    assert refused["toast"]["type"] == "error"
    assert "李经理" in refused["toast"]["content"]
    assert (await one(harness, Task, Task.id == int(task_id))).assignee_open_id == "ou_manager"

    answer = await harness.click(
        "ou_manager",
        value,
        message_id=card.message_id,
        form_value={"task": task_id, "to": "ou_digital"},
        name="handoff_reassign",
    )
    assert answer["toast"]["type"] == "success" and "赵数字" in answer["toast"]["content"]
    task = await one(harness, Task, Task.id == int(task_id))
    assert task.assignee_open_id == "ou_digital" and task.next_action_at == RECHECK
    apply(harness, card.message_id, answer)
    shown = text_of(harness.emulator.find_message(card.message_id).card)
    assert "赵数字（已转交）" in shown
    told = [m for m in cards_to(harness, "ou_digital") if "转交给你" in text_of(m.card)]
    assert len(told) == 1
    assert await rows(harness, AuditLog, AuditLog.action == "task.reassigned")


async def test_org_sync_removing_a_member_hands_off_their_work(harness, db_url, tmp_path):
    text = TEAM_FILE.read_text(encoding="utf-8")
    start = text.index('[[members]]\nopen_id = "ou_research"')
    end = text.index("[[members]]", start + 5)
    smaller = tmp_path / "team.toml"
    smaller.write_text(text[:start] + text[end:], encoding="utf-8")
    mine = await open_tasks(harness, "ou_research")
    assert mine

    result = await asyncio.to_thread(
        run_cli_in, tmp_path, "org", "sync", str(smaller), env={"DATABASE_URL": db_url}
    )
    assert result.returncode == 0, result.stderr
    assert "孙调研 (ou_research): " in result.stdout and "handed over" in result.stdout

    assert not await open_tasks(harness, "ou_research")
    moved = await rows(harness, Task, Task.id.in_([t.id for t in mine]))
    assert {t.assignee_open_id for t in moved} == {"ou_manager"}
    # the command queued the cards; the running bot sends them
    harness.clock.set(max(r.created_at for r in await rows(harness, OutboundMessage)))
    await harness.settle()
    (card,) = await wait_until(lambda: handoff_cards(harness, "ou_manager"), what="the card")
    assert "孙调研" in text_of(card.card) and "移出团队" in text_of(card.card)


async def test_a_role_change_hands_off_the_old_roles_work(harness):
    brand_work = await open_tasks(harness, "ou_brand")
    await group_say(harness, "绑定 {} 市场调研专员", "ou_manager", ("ou_brand", "陈品牌"))
    left = [t for t in await open_tasks(harness, "ou_brand") if t.duty_key.startswith("brand.")]
    assert not left
    moved = await rows(harness, Task, Task.id.in_([t.id for t in brand_work]))
    assert {t.assignee_open_id for t in moved} == {"ou_manager"}
    (card,) = handoff_cards(harness, "ou_manager")
    assert "角色由" in text_of(card.card)
    (confirmation,) = [
        m
        for m in harness.emulator.messages
        if m.card and "已交接" in text_of(m.card) and "handoff.reassign" not in json.dumps(m.card)
    ]
    assert "市场调研专员" in text_of(confirmation.card)


async def test_digest_shows_a_departed_member_by_name_and_role(harness):
    # the brand specialist delivered this week's work, then left; the digest keeps her row
    task = (await open_tasks(harness, "ou_brand"))[0]
    async with harness.bot.sessions() as s:
        row = await s.get(Task, task.id)
        row.status, row.done_at, row.due_at = "done", harness.clock.now(), harness.clock.now()
        await s.commit()
    await deliver(harness, fe.user_deleted("ou_brand", "陈品牌", harness.clock.now()))
    harness.emulator.messages.clear()

    await harness.say("本周汇总", sender="ou_manager")
    (digest,) = [m for m in cards_to(harness, "ou_manager") if "每周汇总" in text_of(m.card)]
    shown = json.dumps(digest.card, ensure_ascii=False)
    assert "陈品牌（已离开）" in shown and "品牌运营专员" in shown
    assert "ou_brand" not in shown


async def test_lists_name_a_departed_author_and_keep_their_report(harness):
    await submit_weekly_by_form(harness)  # the manager's weekly report waits for the director
    await deliver(harness, fe.user_deleted("ou_manager", "李经理", harness.clock.now()))
    report = await one(harness, Report)
    assert report.author_open_id == "ou_manager" and report.status == "submitted"
    harness.emulator.messages.clear()

    await harness.say("待审批", sender="ou_director")
    (pending,) = [
        m
        for m in cards_to(harness, "ou_director")
        if "审批" in m.card["header"]["title"]["content"]
    ]
    shown = json.dumps(pending.card, ensure_ascii=False)
    assert "李经理（已离开）" in shown and "ou_manager" not in shown


async def test_the_new_holder_hears_the_current_reminder_step_once(harness):
    from tests.sched_helpers import add_task, at, clear_tasks
    from tests.sched_helpers import text_of as card_text
    from tests.test_scheduler import PREP, round_at

    bot = harness.bot
    await clear_tasks(bot)
    task = await add_task(bot, PREP, "ou_planner", at(2026, 12, 4, 18))  # Friday 18:00
    assert list(await round_at(bot, at(2026, 12, 4, 9, 30))) == ["ou_planner"]
    harness.clock.set(at(2026, 12, 4, 10, 30))
    await deliver(harness, fe.user_deleted("ou_planner", "王策划", harness.clock.now()))
    assert (await one(harness, Task, Task.id == task.id)).next_action_at == RECHECK

    cards = await round_at(bot, at(2026, 12, 4, 11))  # the task is read at once
    assert list(cards) == ["ou_manager"] and "今天到期" in card_text(cards["ou_manager"])
    assert await round_at(bot, at(2026, 12, 4, 12)) == {}  # once


async def test_a_report_rejected_after_its_author_left_goes_to_whoever_took_over(harness):
    await submit_weekly_by_form(harness)  # the manager's report waits for the director
    (approval,) = [m for m in cards_to(harness, "ou_director") if "report.reject" in str(m.card)]
    await deliver(harness, fe.user_deleted("ou_manager", "李经理", harness.clock.now()))
    report = await one(harness, Report)
    assert (await one(harness, Task, Task.id == report.task_id)).status == "submitted"
    sent_to_manager = len(cards_to(harness, "ou_manager"))

    answer = await harness.click(
        "ou_director",
        button_value(approval.card, "report.reject"),
        message_id=approval.message_id,
        form_value={"comment": "请补充"},
    )
    assert answer["toast"]["type"] == "success"
    await harness.settle()
    task = await one(harness, Task, Task.id == report.task_id)
    # the manager role has nobody else; the manager reported to the director: hers now
    assert task.status == "rejected" and task.assignee_open_id == "ou_director"
    assert (await one(harness, Report)).author_open_id == "ou_manager"  # history kept
    assert len(cards_to(harness, "ou_manager")) == sent_to_manager  # nothing to who left
    assert any(
        m.card["header"]["title"]["content"].startswith("成员离开交接")
        for m in cards_to(harness, "ou_director")
    )


async def test_whoever_took_over_a_rejected_report_resubmits_it_as_their_own(harness):
    await submit_weekly_by_form(harness)
    (approval,) = [m for m in cards_to(harness, "ou_director") if "report.reject" in str(m.card)]
    await deliver(harness, fe.user_deleted("ou_manager", "李经理", harness.clock.now()))
    await harness.click(
        "ou_director",
        button_value(approval.card, "report.reject"),
        message_id=approval.message_id,
        form_value={"comment": "请补充"},
    )
    await harness.settle()
    harness.emulator.messages.clear()

    await harness.say("提交周报", sender="ou_director")  # the task is hers now
    form_msg = last_card(harness, "ou_director")
    answer = await harness.click(
        "ou_director",
        button_value(form_msg.card, "report.submit"),
        message_id=form_msg.message_id,
        form_value=WEEKLY_FORM,
        name="report_submit",
    )
    assert answer["toast"]["type"] == "success", answer
    report = await one(harness, Report)
    assert report.author_open_id == "ou_director" and report.status == "submitted"
    assert report.version == 2
    assert report.approver_open_id is None  # nobody in the department approves the director's
    (resubmit,) = await rows(harness, AuditLog, AuditLog.action == "report.resubmit")
    assert resubmit.actor_open_id == "ou_director"
    assert json.loads(resubmit.detail)["previous_author"] == "ou_manager"  # history kept
    shown = json.dumps(answer["card"], ensure_ascii=False)
    assert "李经理" not in shown  # her report now, not the one who left


async def test_an_admin_may_reassign_and_a_task_not_on_the_card_is_refused(harness):
    await deliver(harness, fe.user_deleted("ou_brand", "陈品牌", harness.clock.now()))
    (card,) = handoff_cards(harness, "ou_director")  # the director is an admin
    value = button_value(card.card, "handoff.reassign")
    other = (await open_tasks(harness, "ou_research"))[0]  # someone else's task

    refused = await harness.click(
        "ou_director",
        value,
        message_id=card.message_id,
        form_value={"task": str(other.id), "to": "ou_crm"},
        name="handoff_reassign",
    )
    assert refused["toast"]["type"] == "error"
    assert (await one(harness, Task, Task.id == other.id)).assignee_open_id == "ou_research"

    answer = await harness.click(
        "ou_director",
        value,
        message_id=card.message_id,
        form_value={"task": value["ts"][0], "to": "ou_crm"},
        name="handoff_reassign",
    )
    assert answer["toast"]["type"] == "success"
    moved = await one(harness, Task, Task.id == int(value["ts"][0]))
    assert moved.assignee_open_id == "ou_crm"


async def test_a_role_change_in_the_team_file_hands_off_the_old_roles_work(
    harness, db_url, tmp_path
):
    brand_work = await open_tasks(harness, "ou_brand")
    text = TEAM_FILE.read_text(encoding="utf-8")
    moved_role = text.replace(
        'open_id = "ou_brand"\nname = "陈品牌"\nrole = "brand"',
        'open_id = "ou_brand"\nname = "陈品牌"\nrole = "research"',
    )
    assert moved_role != text
    team = tmp_path / "team.toml"
    team.write_text(moved_role, encoding="utf-8")

    result = await asyncio.to_thread(
        run_cli_in, tmp_path, "org", "sync", str(team), env={"DATABASE_URL": db_url}
    )
    assert result.returncode == 0, result.stderr
    assert "open task(s) of brand handed over" in result.stdout
    moved = await rows(harness, Task, Task.id.in_([t.id for t in brand_work]))
    assert {t.assignee_open_id for t in moved} == {"ou_manager"}
    harness.clock.set(max(r.created_at for r in await rows(harness, OutboundMessage)))
    await harness.settle()
    (card,) = await wait_until(lambda: handoff_cards(harness, "ou_manager"), what="the card")
    assert "角色由" in text_of(card.card) and "市场调研专员" in text_of(card.card)


async def test_the_hand_off_card_speaks_each_recipients_language(harness):
    """The manager last wrote to the bot in English, the director in Chinese: each gets the
    hand-off card in their own language (the language a member last wrote in is kept)."""
    await harness.say("what's due", sender="ou_manager")
    await harness.say("待办", sender="ou_director")
    assert (await one(harness, Member, Member.open_id == "ou_manager")).lang == "en"
    harness.emulator.messages.clear()

    await deliver(harness, fe.user_deleted("ou_brand", "陈品牌", harness.clock.now()))
    english = [
        m
        for m in cards_to(harness, "ou_manager")
        if m.card["header"]["title"]["content"] == "Hand-off: 陈品牌 left"
    ]
    (card,) = english
    text = text_of(card.card)
    assert "has left the company" in text and "to reassign" in text and "李经理" in text
    assert "Reassign" in json.dumps(card.card) and "已离开公司" not in text
    (chinese,) = handoff_cards(harness, "ou_director")
    assert "已离开公司" in text_of(chinese.card) and "has left" not in text_of(chinese.card)

    # writing in Chinese again switches the manager back
    await harness.say("待办", sender="ou_manager")
    assert (await one(harness, Member, Member.open_id == "ou_manager")).lang == "zh"
