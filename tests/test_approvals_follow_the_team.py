"""Approvals follow the team as it is now, end to end (signed webhook, emulator): a replaced
or removed approver can no longer decide or read, the new one can and gets the card; a
rejection never moves a deadline earlier; a double-clicked submit stores one version."""

from __future__ import annotations

import asyncio
from datetime import datetime

from storage.models import Report, ReportVersion, Task
from tests.conftest import SHANGHAI
from tests.test_reports import (
    WEEKLY_FORM,
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


async def set_approver(harness, member: tuple[str, str], approver: tuple[str, str]) -> None:
    await group_say(harness, "设置审批人 {} {}", "ou_director", member, approver)


MANAGER = ("ou_manager", "李经理")
CRM = ("ou_crm", "吴客户")  # not an admin: may only decide as the approver
RESEARCH = ("ou_research", "孙调研")


async def test_a_replaced_approver_is_refused_and_the_new_one_gets_the_card(harness):
    await set_approver(harness, MANAGER, CRM)
    await submit_weekly_by_form(harness)
    (old,) = cards_to(harness, "ou_crm")
    approve = button_value(old.card, "report.approve")

    await set_approver(harness, MANAGER, RESEARCH)
    confirmations = [m for m in harness.emulator.messages if m.card and "审批人" in text_of(m.card)]
    assert any("1 份待审批报告已转给新的审批人" in text_of(m.card) for m in confirmations)
    (new,) = cards_to(harness, "ou_research")
    assert "项目进度周报" in text_of(new.card)
    # the old card now says who approves
    old_now = harness.emulator.find_message(old.message_id).card
    assert "孙调研" in text_of(old_now) and "审批人已变更" in text_of(old_now)

    refused = await harness.click("ou_crm", approve, message_id=old.message_id)
    assert refused["toast"]["type"] == "error" and "孙调研" in refused["toast"]["content"]
    view = {"a": "report.view", "v": 1, "r": approve["r"]}
    assert (await harness.click("ou_crm", view))["toast"]["type"] == "error"  # may not read
    assert (await one(harness, Report)).status == "submitted"

    answer = await harness.click(
        "ou_research", button_value(new.card, "report.approve"), message_id=new.message_id
    )
    assert answer["toast"]["type"] == "success"
    report = await one(harness, Report)
    assert report.status == "approved" and report.decided_by == "ou_research"


async def test_a_removed_approver_loses_the_report_to_the_role_default(harness):
    await set_approver(harness, MANAGER, CRM)
    await submit_weekly_by_form(harness)
    (old,) = cards_to(harness, "ou_crm")
    await group_say(harness, "移除 {}", "ou_director", CRM)
    # the manager's role reports to the director: the card goes there (beside the
    # hand-off card of CRM's open work, which the director gets as an admin)
    (new,) = [m for m in cards_to(harness, "ou_director") if "report.approve" in str(m.card)]
    assert (await one(harness, Report)).approver_open_id == "ou_director"
    refused = await harness.click(
        "ou_crm", button_value(old.card, "report.approve"), message_id=old.message_id
    )
    assert refused["toast"]["type"] == "error"
    answer = await harness.click(
        "ou_director", button_value(new.card, "report.approve"), message_id=new.message_id
    )
    assert answer["toast"]["type"] == "success"


async def test_five_quick_submit_clicks_store_one_version(harness):
    await harness.say("提交周报", sender="ou_manager")
    form = last_card(harness, "ou_manager")
    value = button_value(form.card, "report.submit")
    answers = await asyncio.gather(
        *(
            harness.click(
                "ou_manager",
                value,
                message_id=form.message_id,
                form_value=WEEKLY_FORM,
                name="report_submit",
            )
            for _ in range(5)
        )
    )
    assert all(a["toast"]["type"] == "success" for a in answers)
    assert len(await rows(harness, ReportVersion)) == 1
    assert (await one(harness, Report)).version == 1
    assert len(cards_to(harness, "ou_director")) == 1  # one approval card


async def test_rejection_never_moves_a_deadline_earlier(harness):
    await submit_weekly_by_form(harness)
    report = await one(harness, Report)
    later = datetime(2026, 12, 18, 18, 0, tzinfo=SHANGHAI)
    async with harness.bot.sessions() as s:  # a report whose deadline is weeks away
        task = await s.get(Task, report.task_id)
        task.due_at = later
        await s.commit()
    (approval,) = cards_to(harness, "ou_director")
    answer = await harness.click(
        "ou_director",
        button_value(approval.card, "report.reject"),
        message_id=approval.message_id,
        form_value={"comment": "请补充"},
    )
    apply(harness, approval.message_id, answer)
    task = await one(harness, Task, Task.id == report.task_id)
    assert task.status == "rejected" and task.due_at == later  # not Mon 30 Nov
    assert task.original_due_at == later


async def test_the_approver_sees_the_deadline_in_force_and_if_the_first_version_was_late(harness):
    await submit_weekly_by_form(harness)
    report = await one(harness, Report)
    async with harness.bot.sessions() as s:  # the first version came after the deadline
        task = await s.get(Task, report.task_id)
        task.due_at = datetime(2026, 11, 25, 18, 0, tzinfo=SHANGHAI)
        await s.commit()
    (approval,) = cards_to(harness, "ou_director")
    answer = await harness.click(
        "ou_director",
        button_value(approval.card, "report.reject"),
        message_id=approval.message_id,
        form_value={"comment": "请补充"},
    )
    assert answer["toast"]["type"] == "success"
    # resubmit from the author's notice: the director's new card
    notice = cards_to(harness, "ou_manager")[-1]
    answer = await harness.click("ou_manager", button_value(notice.card, "report.open"))
    form = last_card(harness, "ou_manager")
    answer = await harness.click(
        "ou_manager",
        button_value(form.card, "report.submit"),
        message_id=form.message_id,
        form_value={**WEEKLY_FORM, "risks": "已补充"},
    )
    assert answer["toast"]["type"] == "success"
    card = text_of(cards_to(harness, "ou_director")[-1].card)
    assert "11-30" in card  # the deadline in force: rejection (Thu 26) + 2 working days
    assert "首版逾期提交" in card


async def tick(harness, when) -> None:
    from bot.jobs.scheduler import run_tick

    harness.clock.set(when)
    report = await run_tick(harness.bot, when)
    assert report.errors == []
    await harness.settle()


def weekly_cards(harness, open_id: str) -> list:
    """Approval cards of the weekly report (not reminders of later weeks' tasks)."""
    return [
        m
        for m in cards_to(harness, open_id)
        if "项目进度周报" in text_of(m.card) and "report.approve" in text_of(m.card)
    ]


async def test_a_waiting_approval_reminds_once_then_escalates_once(harness):
    from tests.sched_helpers import at

    await set_approver(harness, MANAGER, CRM)  # crm's own manager is the director
    await submit_weekly_by_form(harness)  # Thu 26 Nov
    assert len(weekly_cards(harness, "ou_crm")) == 1
    await tick(harness, at(2026, 11, 27))  # one working day: nothing yet
    assert len(weekly_cards(harness, "ou_crm")) == 1
    await tick(harness, at(2026, 11, 30))  # two working days (the policy's window)
    await tick(harness, at(2026, 11, 30, 11))
    reminders = weekly_cards(harness, "ou_crm")
    assert len(reminders) == 2 and "等待你审批 2 个工作日" in text_of(reminders[-1].card)
    assert not [m for m in cards_to(harness, "ou_director") if "审批超时" in text_of(m.card)]
    await tick(harness, at(2026, 12, 2))  # a second window: the approver's manager hears
    await tick(harness, at(2026, 12, 2, 11))
    escalations = [m for m in cards_to(harness, "ou_director") if "审批超时" in text_of(m.card)]
    assert len(escalations) == 1 and "吴客户" in text_of(escalations[0].card)
    # the reminder card is the one kept up to date: approving on it works
    answer = await harness.click(
        "ou_crm",
        button_value(reminders[-1].card, "report.approve"),
        message_id=reminders[-1].message_id,
    )
    assert answer["toast"]["type"] == "success"


async def test_an_approval_card_is_sent_again_before_feishu_stops_updating_it(harness):
    from tests.sched_helpers import at

    await submit_weekly_by_form(harness)  # Thu 26 Nov, to the director
    await tick(harness, at(2026, 11, 30))  # the reminder: a fresh card
    assert len(weekly_cards(harness, "ou_director")) == 2
    await tick(harness, at(2026, 12, 14))  # 14 days after the reminder: sent again
    await tick(harness, at(2026, 12, 14, 11))
    cards = weekly_cards(harness, "ou_director")
    assert len(cards) == 3
    report = await one(harness, Report)
    async with harness.bot.sessions() as s:
        from storage.outbox import sent_message_id

        _, message_id = await sent_message_id(s, report.approver_card_uuid)
    assert message_id == cards[-1].message_id  # decisions update the newest card
