"""Reports and approvals end to end: chat and card callbacks through the signed webhook,
the inbox and outbox, the real lark-oapi SDK and the local Feishu emulator."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta

from sqlmodel import select

from cards.elements import card_size
from cards.schema import CARD_MAX_BYTES, mentions_all, validate_card
from storage.models import (
    Activity,
    AuditLog,
    OutboundMessage,
    Report,
    ReportVersion,
    Task,
)
from tests import feishu_events as fe
from tests.conftest import SHANGHAI

WEEKLY = "manager.weekly_progress"
EXECUTION = "planner.execution_report"


# -- helpers -------------------------------------------------------------------------------


def walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def text_of(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def buttons(card: dict) -> list[dict]:
    return [n for n in walk(card) if n.get("tag") == "button"]


def button_value(card: dict, action: str) -> dict:
    for b in buttons(card):
        for behavior in b.get("behaviors", []):
            if behavior.get("value", {}).get("a") == action:
                return behavior["value"]
    raise AssertionError(f"no {action} button in {text_of(card)[:500]}")


def button_named(card: dict, name: str) -> dict:
    for b in buttons(card):
        if b.get("name") == name:
            return b
    raise AssertionError(f"no button named {name}")


def inputs(card: dict) -> dict[str, dict]:
    tags = ("input", "date_picker", "select_static", "select_person")
    return {n["name"]: n for n in walk(card) if n.get("tag") in tags}


def to(harness, open_id: str):
    """Messages the bot sent to a member (by open_id, or into their direct chat)."""
    return [
        m
        for m in harness.emulator.messages
        if m.receive_id == open_id or m.chat_id == f"oc_p2p_{open_id}"
    ]


def cards_to(harness, open_id: str) -> list:
    return [m for m in to(harness, open_id) if m.msg_type == "interactive"]


def apply(harness, message_id: str, answer: dict) -> None:
    """What the Feishu client does with a card in a callback answer: it replaces the card."""
    card = (answer.get("card") or {}).get("data")
    if card is not None:
        harness.emulator.apply_callback_card(message_id, card)


async def rows(harness, model, *where):
    async with harness.bot.sessions() as session:
        return list((await session.exec(select(model).where(*where))).all())


async def one(harness, model, *where):
    (row,) = await rows(harness, model, *where)
    return row


async def audits(harness, action: str) -> list[AuditLog]:
    return await rows(harness, AuditLog, AuditLog.action == action)


async def open_task(harness, open_id: str, duty_key: str) -> Task:
    found = await rows(
        harness,
        Task,
        Task.assignee_open_id == open_id,
        Task.duty_key == duty_key,
    )
    return sorted(found, key=lambda t: t.due_at)[0]


async def add_execution_task(harness, title: str = "双十一路演") -> Task:
    """An activity (issue #4 creates these) with the planner's execution report task."""
    now = harness.clock.now()
    async with harness.bot.sessions() as session:
        activity = Activity(
            title=title,
            start_date=date(2026, 11, 20),
            end_date=date(2026, 11, 21),
            owner_open_id="ou_planner",
            created_at=now,
            updated_at=now,
        )
        session.add(activity)
        await session.flush()
        task = Task(
            duty_key=EXECUTION,
            assignee_open_id="ou_planner",
            period_key=f"act:{activity.id}",
            activity_id=activity.id,
            due_at=datetime(2026, 11, 26, 18, 0, tzinfo=SHANGHAI),
            status="open",
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        await session.commit()
        return task


def last_card(harness, open_id: str):
    return cards_to(harness, open_id)[-1]


WEEKLY_FORM = {
    "completion_rate": "85",
    "risks": "物料延迟交付",
    "support_needed": "需要设计部支持海报",
    "blockers_resolved": "",
}


async def submit_weekly_by_form(harness, form_value: dict | None = None, lang: str = "zh"):
    """The manager asks for the form and submits it; returns (form message, answer)."""
    await harness.say("提交周报" if lang == "zh" else "submit weekly report", sender="ou_manager")
    form_msg = last_card(harness, "ou_manager")
    value = button_value(form_msg.card, "report.submit")
    answer = await harness.click(
        "ou_manager",
        value,
        message_id=form_msg.message_id,
        form_value=form_value if form_value is not None else WEEKLY_FORM,
        name="report_submit",
    )
    apply(harness, form_msg.message_id, answer)
    return form_msg, answer


def execution_text(attendees: int = 76, labels: str = "zh", extra: str = "") -> str:
    if labels == "zh":
        return (
            "提交执行报告\n"
            "计划到场人数：100\n"
            f"实际参与人数: {attendees}人\n"
            "留资数量: 40\n"
            "其中：扫码关注数: 30\n"
            "现场成交(签单金额): 1.2万\n"
            "亮点: 互动环节参与率90%\n"
            "问题: 礼品发放效率低\n"
            "排队时间过长" + extra
        )
    return (
        "submit execution report\n"
        "Expected attendees: 100\n"
        f"Attendees: {attendees}\n"
        "Leads: 40\n"
        "On-site deals: ¥12,000\n"
        "Highlights: 90% took part\n"
        "Problems: gift hand-out was slow" + extra
    )


async def submit_execution_by_text(harness, attendees: int = 76, labels: str = "zh", extra=""):
    task = await add_execution_task(harness)
    await harness.say(execution_text(attendees, labels, extra), sender="ou_planner")
    return task


# -- submitting ----------------------------------------------------------------------------


async def test_weekly_report_by_form_reaches_the_approver(harness):
    await harness.say("提交周报", sender="ou_manager")
    (form_msg,) = cards_to(harness, "ou_manager")
    form = form_msg.card
    assert validate_card(form) == []
    assert "项目进度周报" in form["header"]["title"]["content"]
    assert "11-27" in form["header"]["subtitle"]["content"]  # due Fri 27 Nov
    fields = inputs(form)
    assert set(fields) == {"completion_rate", "risks", "support_needed", "blockers_resolved"}
    assert fields["completion_rate"]["required"] and not fields["support_needed"]["required"]
    assert fields["risks"]["input_type"] == "multiline_text"
    assert "（%）" in text_of(form)  # percent typed as percent points
    submit = button_named(form, "report_submit")
    assert submit["form_action_type"] == "submit"

    value = button_value(form, "report.submit")
    answer = await harness.click(
        "ou_manager",
        value,
        message_id=form_msg.message_id,
        form_value=WEEKLY_FORM,
        name="report_submit",
    )
    assert answer["toast"]["type"] == "success" and "周总监" in answer["toast"]["content"]
    summary = answer["card"]["data"]
    assert validate_card(summary) == []
    assert "85%" in text_of(summary) and "等待" in text_of(summary)
    assert not any(b.get("form_action_type") for b in buttons(summary))  # read-only

    report = await one(harness, Report)
    assert report.status == "submitted" and report.version == 1
    assert report.approver_open_id == "ou_director"
    values = json.loads(report.values)
    assert values == {
        "completion_rate": 0.85,
        "risks": "物料延迟交付",
        "support_needed": "需要设计部支持海报",
    }
    task = await one(harness, Task, Task.id == report.task_id)
    assert task.status == "submitted"
    (version,) = await rows(harness, ReportVersion)
    assert version.via == "form" and json.loads(version.values) == values
    (row,) = await audits(harness, "report.submit")
    assert row.actor_open_id == "ou_manager"
    assert json.loads(row.detail)["card"] == form_msg.message_id

    (approval_msg,) = cards_to(harness, "ou_director")
    approval = approval_msg.card
    assert validate_card(approval) == []
    text = text_of(approval)
    assert "李经理" in text and "85%" in text and "物料延迟交付" in text
    assert button_named(approval, "report_approve")["form_action_type"] == "submit"
    assert button_named(approval, "report_reject")["form_action_type"] == "submit"
    assert "comment" in inputs(approval)
    sent = await one(harness, OutboundMessage, OutboundMessage.uuid == report.approver_card_uuid)
    assert sent.feishu_message_id == approval_msg.message_id
    assert report.author_card_uuid == form_msg.uuid  # the summary replaced the form there


async def test_execution_report_by_text_with_chinese_labels_flags_the_kpi_miss(harness):
    task = await submit_execution_by_text(harness, attendees=76)
    report = await one(harness, Report)
    assert report.task_id == task.id and report.approver_open_id == "ou_manager"
    values = json.loads(report.values)
    assert values["expected_attendees"] == 100 and values["attendees"] == 76
    assert values["qr_follows"] == 30 and values["deal_amount"] == 12000
    assert values["problems"] == "礼品发放效率低\n排队时间过长"  # continued on the next line
    (kpi,) = json.loads(report.kpis)
    assert kpi == {
        "key": "attendance",
        "label_zh": "到场率",
        "label_en": "Attendance",
        "value": 0.76,
        "display": "76%",
        "op": ">=",
        "threshold": 0.8,
        "threshold_display": "80%",
        "ok": False,
    }
    (version,) = await rows(harness, ReportVersion)
    assert version.via == "text"

    (summary,) = cards_to(harness, "ou_planner")
    assert validate_card(summary.card) == [] and "已提交" in text_of(summary.card)
    (approval,) = cards_to(harness, "ou_manager")
    text = text_of(approval.card)
    assert "到场率 76% < 80%" in text and "❌" in text
    assert "双十一路演" in text  # the activity the task is for
    tags = [t["text"]["content"] for t in approval.card["header"]["text_tag_list"]]
    assert "KPI 未达标 1" in tags


async def test_text_submission_with_english_labels_and_a_passing_kpi(harness):
    await submit_execution_by_text(harness, attendees=85, labels="en")
    report = await one(harness, Report)
    values = json.loads(report.values)
    assert values["attendees"] == 85 and values["deal_amount"] == 12000
    assert json.loads(report.kpis)[0]["ok"] is True
    (approval,) = cards_to(harness, "ou_manager")
    text = text_of(approval.card)
    assert "Attendance 85% ≥ 80%" in text and "✅" in text
    assert "Activity execution report" in text and "活动执行报告" not in text


async def test_weekly_report_by_text_in_english(harness):
    await harness.say(
        "submit weekly report\nCompletion rate: 85%\nRisks: late materials\n"
        "support_needed: a designer",
        sender="ou_manager",
    )
    report = await one(harness, Report)
    assert json.loads(report.values) == {
        "completion_rate": 0.85,
        "risks": "late materials",
        "support_needed": "a designer",
    }
    (approval,) = cards_to(harness, "ou_director")
    assert "Weekly project progress report" in text_of(approval.card)


async def test_invalid_form_fields_get_a_toast_naming_them_and_keep_the_card(harness):
    await harness.say("提交周报", sender="ou_manager")
    (form_msg,) = cards_to(harness, "ou_manager")
    value = button_value(form_msg.card, "report.submit")
    bad = {"completion_rate": "八十五", "risks": "  ", "support_needed": "x"}
    answer = await harness.click(
        "ou_manager", value, message_id=form_msg.message_id, form_value=bad, name="report_submit"
    )
    assert answer["toast"]["type"] == "error"
    assert "完成率" in answer["toast"]["content"] and "风险点" in answer["toast"]["content"]
    assert "Completion rate" in answer["toast"]["i18n"]["en_us"]
    assert "card" not in answer  # what was typed stays in the form

    over = {**WEEKLY_FORM, "completion_rate": "120"}
    answer = await harness.click(
        "ou_manager", value, message_id=form_msg.message_id, form_value=over, name="report_submit"
    )
    assert "card" not in answer and "0% 到 100%" in answer["toast"]["content"]

    assert await rows(harness, Report) == []
    task = await open_task(harness, "ou_manager", WEEKLY)
    assert task.status == "open"
    assert harness.emulator.find_message(form_msg.message_id).updates == []
    assert cards_to(harness, "ou_director") == []


async def test_text_submission_errors_are_explained_and_nothing_is_stored(harness):
    await harness.say("提交周报\n完成率: 很高\n心情: 不错", sender="ou_manager")
    (msg,) = cards_to(harness, "ou_manager")
    text = text_of(msg.card)
    assert "完成率" in text and "心情" in text and "风险点" in text  # and the help lists fields
    assert await rows(harness, Report) == []


async def test_picker_when_several_reports_match_then_form_in_place(harness):
    await harness.say("提交报告", sender="ou_brand")  # three monthly reports are open
    (picker_msg,) = cards_to(harness, "ou_brand")
    picker = picker_msg.card
    assert validate_card(picker) == []
    opens = [b["behaviors"][0]["value"] for b in buttons(picker)]
    assert len(opens) == 3 and all(v["a"] == "report.open" for v in opens)
    text = text_of(picker)
    assert "品牌露出合规检查" in text and "月度内容规划" in text and "品牌传播月报" in text
    # One per duty: next month's plan is not offered while this month's is open.
    assert len({v["t"] for v in opens}) == 3

    answer = await harness.click("ou_brand", opens[0], message_id=picker_msg.message_id)
    form = answer["card"]["data"]  # the picker turns into the form
    assert validate_card(form) == [] and inputs(form)
    assert len(cards_to(harness, "ou_brand")) == 1

    # The same value clicked on another copy of the card opens a new form message instead.
    answer = await harness.click("ou_brand", opens[0], message_id="om_copy")
    assert "card" not in answer and answer["toast"]["type"] == "success"
    assert len(cards_to(harness, "ou_brand")) == 2


async def test_report_open_from_a_task_card_sends_the_form_to_the_assignee_only(harness):
    task = await open_task(harness, "ou_manager", WEEKLY)
    value = {"a": "report.open", "v": 1, "t": task.id}
    answer = await harness.click("ou_manager", value, message_id="om_due_card")
    assert answer["toast"]["type"] == "success" and "card" not in answer
    (form_msg,) = cards_to(harness, "ou_manager")
    assert "completion_rate" in inputs(form_msg.card)

    refused = await harness.click("ou_planner", value, message_id="om_due_card")
    assert refused["toast"]["type"] == "error" and cards_to(harness, "ou_planner") == []
    (row,) = await audits(harness, "report.refused")
    assert row.actor_open_id == "ou_planner" and json.loads(row.detail)["card"] == "om_due_card"


async def test_group_request_sends_the_form_privately(harness):
    await harness.say(
        "@_user_1 提交周报", sender="ou_manager", chat_type="group", mentions=[fe.bot_mention()]
    )
    group = [m for m in harness.emulator.messages if m.chat_id == "oc_team"]
    assert len(group) == 1 and group[0].msg_type == "text" and "私信" in group[0].text
    (form_msg,) = [m for m in harness.emulator.messages if m.receive_id == "ou_manager"]
    assert inputs(form_msg.card)


# -- approving -----------------------------------------------------------------------------


async def test_approve_updates_both_cards_and_tells_the_author(harness):
    form_msg, _ = await submit_weekly_by_form(harness)
    (approval_msg,) = cards_to(harness, "ou_director")
    value = button_value(approval_msg.card, "report.approve")
    started = time.perf_counter()
    answer = await harness.click(
        "ou_director",
        value,
        message_id=approval_msg.message_id,
        form_value={"comment": "很好"},
        name="report_approve",
    )
    assert time.perf_counter() - started < 2.0
    assert answer["toast"]["type"] == "success"
    decided = answer["card"]["data"]
    assert validate_card(decided) == []
    assert decided["header"]["template"] == "green" and "已通过" in text_of(decided)
    assert "周总监" in text_of(decided) and "很好" in text_of(decided)
    assert not any(b.get("form_action_type") for b in buttons(decided))  # no more buttons

    report = await one(harness, Report)
    assert report.status == "approved" and report.decided_by == "ou_director"
    task = await one(harness, Task, Task.id == report.task_id)
    assert task.status == "approved" and task.done_at is not None

    author_card = harness.emulator.find_message(form_msg.message_id)
    assert author_card.updates[-1].via == "patch"
    assert "已通过" in text_of(author_card.card) and "很好" in text_of(author_card.card)
    notice = cards_to(harness, "ou_manager")[-1]
    assert notice.message_id != form_msg.message_id and "已通过" in text_of(notice.card)
    (row,) = await audits(harness, "report.approve")
    detail = json.loads(row.detail)
    assert row.actor_open_id == "ou_director" and detail["card"] == approval_msg.message_id
    # The approval card itself changed only through the answer (no extra patch).
    assert harness.emulator.find_message(approval_msg.message_id).updates == []


async def test_callback_answer_is_fast(harness):
    await submit_weekly_by_form(harness)
    (approval_msg,) = cards_to(harness, "ou_director")
    value = button_value(approval_msg.card, "report.approve")
    payload = fe.card_action(
        "ou_director", value, harness.clock.now(), message_id=approval_msg.message_id
    )
    started = time.perf_counter()
    resp = await harness.post(payload)
    elapsed = time.perf_counter() - started
    assert resp.status == 200 and (await resp.json())["toast"]["type"] == "success"
    # What the user notices is Feishu's 3 s budget (error 200341 after it); the in-process
    # latency target is measured by /metrics' callback histogram, not by a timed test.
    assert elapsed < 2.5, f"callback took {elapsed * 1000:.0f} ms"


async def test_non_approver_and_forwarded_copy_are_refused(harness):
    await submit_execution_by_text(harness)  # approver: the manager
    (approval_msg,) = cards_to(harness, "ou_manager")
    value = button_value(approval_msg.card, "report.approve")
    answer = await harness.click("ou_brand", value, message_id=approval_msg.message_id)
    assert answer["toast"]["type"] == "error" and "李经理" in answer["toast"]["content"]
    assert "card" not in answer
    # A forwarded copy in another chat carries the same value: still refused.
    reject = button_value(approval_msg.card, "report.reject")
    answer = await harness.click(
        "ou_digital",
        reject,
        message_id="om_forwarded",
        chat_id="oc_other",
        form_value={"comment": "no"},
    )
    assert answer["toast"]["type"] == "error" and "card" not in answer
    # The author cannot approve their own report either.
    answer = await harness.click("ou_planner", value, message_id=approval_msg.message_id)
    assert answer["toast"]["type"] == "error"

    report = await one(harness, Report)
    assert report.status == "submitted" and report.decided_by is None
    refused = await audits(harness, "report.refused")
    assert [r.actor_open_id for r in refused] == ["ou_brand", "ou_digital", "ou_planner"]
    assert json.loads(refused[1].detail)["card"] == "om_forwarded"
    assert await audits(harness, "report.approve") == []


async def test_admin_may_decide_for_the_approver(harness):
    await submit_execution_by_text(harness)
    (approval_msg,) = cards_to(harness, "ou_manager")
    value = button_value(approval_msg.card, "report.approve")
    answer = await harness.click("ou_director", value, message_id=approval_msg.message_id)
    assert answer["toast"]["type"] == "success"
    report = await one(harness, Report)
    assert report.status == "approved" and report.decided_by == "ou_director"
    (row,) = await audits(harness, "report.approve")
    assert json.loads(row.detail)["as_admin"] is True


async def test_double_click_decides_once(harness):
    await submit_weekly_by_form(harness)
    (approval_msg,) = cards_to(harness, "ou_director")
    value = button_value(approval_msg.card, "report.approve")
    first = await harness.click("ou_director", value, message_id=approval_msg.message_id)
    second = await harness.click("ou_director", value, message_id=approval_msg.message_id)
    assert first["toast"]["type"] == "success"
    assert second["toast"]["type"] == "info"
    assert "已由 周总监 于" in second["toast"]["content"] and "通过" in second["toast"]["content"]
    assert "Already approved by 周总监" in second["toast"]["i18n"]["en_us"]
    assert len(await audits(harness, "report.approve")) == 1
    assert len([m for m in cards_to(harness, "ou_manager") if "已通过" in text_of(m.content)]) == 1


async def test_concurrent_approve_and_reject_decide_once(harness):
    await submit_execution_by_text(harness)  # approver: the manager; the director is an admin
    (approval_msg,) = cards_to(harness, "ou_manager")
    approve = button_value(approval_msg.card, "report.approve")
    reject = button_value(approval_msg.card, "report.reject")
    now = harness.clock.now()
    payloads = [
        fe.card_action("ou_manager", approve, now, message_id=approval_msg.message_id),
        fe.card_action(
            "ou_director",
            reject,
            now,
            message_id=approval_msg.message_id,
            form_value={"comment": "数据不全"},
        ),
    ]
    responses = await asyncio.gather(*(harness.post(p) for p in payloads))
    answers = [await r.json() for r in responses]
    await harness.settle()
    kinds = sorted(a["toast"]["type"] for a in answers)
    assert kinds == ["info", "success"], answers
    report = await one(harness, Report)
    decisions = await audits(harness, "report.approve") + await audits(harness, "report.reject")
    assert len(decisions) == 1
    assert report.status == ("approved" if decisions[0].action == "report.approve" else "rejected")
    loser = next(a for a in answers if a["toast"]["type"] == "info")
    assert "已由" in loser["toast"]["content"]


async def test_reject_with_comment_then_resubmit_to_the_same_approver(harness):
    form_msg, _ = await submit_weekly_by_form(harness)
    (approval_msg,) = cards_to(harness, "ou_director")
    reject = button_value(approval_msg.card, "report.reject")
    # Reject needs a comment: refused without one, nothing changes.
    answer = await harness.click(
        "ou_director", reject, message_id=approval_msg.message_id, form_value={"comment": " "}
    )
    assert answer["toast"]["type"] == "error" and "card" not in answer
    assert (await one(harness, Report)).status == "submitted"

    answer = await harness.click(
        "ou_director",
        reject,
        message_id=approval_msg.message_id,
        form_value={"comment": "请补充风险细节"},
        name="report_reject",
    )
    apply(harness, approval_msg.message_id, answer)
    assert answer["toast"]["type"] == "success"
    assert answer["card"]["data"]["header"]["template"] == "red"
    report = await one(harness, Report)
    assert report.status == "rejected" and report.comment == "请补充风险细节"
    task = await one(harness, Task, Task.id == report.task_id)
    assert task.status == "rejected" and task.note == "请补充风险细节"
    # 2 working days after Thu 26 Nov: Mon 30 Nov, at the duty's 18:00.
    assert task.due_at == datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)

    notice = cards_to(harness, "ou_manager")[-1]
    assert "请补充风险细节" in text_of(notice.card) and "11-30" in text_of(notice.card)
    author_card = harness.emulator.find_message(form_msg.message_id).card
    assert "请补充风险细节" in text_of(author_card)

    # Resubmit from the author's card: the form opens in place with the previous values.
    value = button_value(author_card, "report.open")
    answer = await harness.click("ou_manager", value, message_id=form_msg.message_id)
    form = answer["card"]["data"]
    apply(harness, form_msg.message_id, answer)
    assert inputs(form)["completion_rate"]["default_value"] == "85"
    assert "请补充风险细节" in text_of(form)
    value = button_value(form, "report.submit")
    answer = await harness.click(
        "ou_manager",
        value,
        message_id=form_msg.message_id,
        form_value={**WEEKLY_FORM, "risks": "物料延迟交付；供应商已加急"},
    )
    assert answer["toast"]["type"] == "success" and "第 2 版" in answer["toast"]["content"]
    report = await one(harness, Report)
    assert report.status == "submitted" and report.version == 2
    assert report.approver_open_id == "ou_director" and report.decided_by is None
    task = await one(harness, Task, Task.id == report.task_id)
    assert task.status == "submitted"
    approvals = cards_to(harness, "ou_director")
    assert len(approvals) == 2  # the resubmission is new work: a new card notifies the approver
    assert "供应商已加急" in text_of(approvals[-1].card)
    assert "请补充风险细节" in text_of(approvals[-1].card)  # the comment it answers
    assert len(await audits(harness, "report.resubmit")) == 1
    # The new card decides; the old (rejected) one is stale.
    value = button_value(approvals[-1].card, "report.approve")
    answer = await harness.click("ou_director", value, message_id=approvals[-1].message_id)
    assert answer["toast"]["type"] == "success"


async def test_edit_before_decision_patches_the_approver_card_and_keeps_versions(harness):
    form_msg, answer = await submit_weekly_by_form(harness)
    (approval_msg,) = cards_to(harness, "ou_director")
    old_approve = button_value(approval_msg.card, "report.approve")

    edit = button_value(answer["card"]["data"], "report.open")
    answer = await harness.click("ou_manager", edit, message_id=form_msg.message_id)
    apply(harness, form_msg.message_id, answer)
    form = answer["card"]["data"]
    assert inputs(form)["risks"]["default_value"] == "物料延迟交付"
    answer = await harness.click(
        "ou_manager",
        button_value(form, "report.submit"),
        message_id=form_msg.message_id,
        form_value={**WEEKLY_FORM, "completion_rate": "90"},
    )
    assert answer["toast"]["type"] == "success" and "第 2 版" in answer["toast"]["content"]

    report = await one(harness, Report)
    assert report.version == 2 and report.status == "submitted"
    versions = await rows(harness, ReportVersion)
    assert [json.loads(v.values)["completion_rate"] for v in versions] == [0.85, 0.9]
    assert len(cards_to(harness, "ou_director")) == 1  # no second card
    approval = harness.emulator.find_message(approval_msg.message_id)
    assert [u.via for u in approval.updates] == ["patch"]
    assert "90%" in text_of(approval.card) and "第 2 版" in text_of(approval.card)
    (row,) = await audits(harness, "report.edit")
    assert json.loads(row.detail)["version"] == 2

    # The old card's buttons name version 1: nothing is decided, the card shows version 2.
    answer = await harness.click("ou_director", old_approve, message_id=approval_msg.message_id)
    assert answer["toast"]["type"] == "warning" and "90%" in text_of(answer["card"]["data"])
    assert (await one(harness, Report)).status == "submitted"
    answer = await harness.click(
        "ou_director",
        button_value(approval.card, "report.approve"),
        message_id=approval_msg.message_id,
    )
    assert answer["toast"]["type"] == "success"


async def test_same_submission_twice_is_not_a_new_version(harness):
    form_msg, _ = await submit_weekly_by_form(harness)
    value = button_value(harness.emulator.messages[0].content, "report.submit")
    answer = await harness.click(
        "ou_manager", value, message_id=form_msg.message_id, form_value=WEEKLY_FORM
    )
    assert answer["toast"]["type"] == "success" and "没有变化" in answer["toast"]["content"]
    assert (await one(harness, Report)).version == 1
    assert len(cards_to(harness, "ou_director")) == 1


# -- lists -----------------------------------------------------------------------------------


async def test_pending_approvals_oldest_first_with_waiting_time(harness):
    await submit_execution_by_text(harness)  # to the manager at 10:00
    harness.clock.advance(timedelta(hours=2))
    await harness.say(
        "提交月报\n总曝光量: 1000\n总互动量: 50\n各渠道数据: 微信 800", sender="ou_brand"
    )
    harness.clock.advance(timedelta(hours=1))
    await harness.say("待审批", sender="ou_manager")
    card = cards_to(harness, "ou_manager")[-1].card
    assert validate_card(card) == []
    text = text_of(card)
    assert "待我审批（2）" in card["header"]["title"]["content"]
    assert text.index("王策划") < text.index("陈品牌")  # oldest first
    assert "已等待 3 小时" in text and "已等待 1 小时" in text
    assert "1 项 KPI 未达标" in text
    views = [b["behaviors"][0]["value"] for b in buttons(card)]
    assert [v["a"] for v in views] == ["report.view", "report.view"]

    await harness.say("pending approvals", sender="ou_director")
    card = cards_to(harness, "ou_director")[-1].card
    assert "Nothing is waiting" in text_of(card)

    # "Open" sends the approval card again; it is the one kept up to date from then on.
    answer = await harness.click("ou_manager", views[0])
    assert answer["toast"]["type"] == "success"
    again = cards_to(harness, "ou_manager")[-1]
    assert "到场率 76% < 80%" in text_of(again.card)
    refused = await harness.click("ou_brand", views[0])
    assert refused["toast"]["type"] == "error"


async def test_my_reports_lists_status(harness):
    await submit_weekly_by_form(harness)
    await harness.say("我的报告", sender="ou_manager")
    card = cards_to(harness, "ou_manager")[-1].card
    assert validate_card(card) == []
    assert "项目进度周报" in text_of(card) and "待审批" in text_of(card)
    (approval_msg,) = cards_to(harness, "ou_director")
    await harness.click(
        "ou_director",
        button_value(approval_msg.card, "report.approve"),
        message_id=approval_msg.message_id,
    )
    await harness.say("my reports", sender="ou_manager")
    card = cards_to(harness, "ou_manager")[-1].card
    assert "Weekly project progress report" in text_of(card) and "Approved" in text_of(card)
    await harness.say("我的报告", sender="ou_research")
    assert "还没有提交" in text_of(cards_to(harness, "ou_research")[-1].card)


# -- safety ----------------------------------------------------------------------------------

INJECTION = (
    "<at id=all></at> 请大家注意 [点我领奖](https://evil.example/x) **✅ Approved by CEO** "
    "<font color='green'>已通过</font> ~~删除~~ # 标题\n1. 列表 <link url=https://x>x</link>"
)


async def test_injection_and_a_40kb_field_render_literally_and_send(harness):
    big = "超长内容" * 3500  # 14,000 characters, 42 KB of UTF-8
    await harness.say(
        f"提交周报\n完成率: 85\n风险点: {INJECTION}\n需支持事项: {big}", sender="ou_manager"
    )
    report = await one(harness, Report)
    assert json.loads(report.values)["support_needed"] == big
    (approval_msg,) = cards_to(harness, "ou_director")
    card = approval_msg.card
    assert validate_card(card) == []
    assert len(approval_msg.raw_content.encode()) <= CARD_MAX_BYTES
    assert card_size(card) <= CARD_MAX_BYTES
    for node in walk(card):
        if node.get("tag") == "markdown":
            assert not mentions_all(node["content"])
            assert "](https://evil" not in node["content"]
            assert "**✅ Approved" not in node["content"]
    plain_texts = [n["content"] for n in walk(card) if n.get("tag") == "plain_text"]
    assert any("＜at id=all>＜/at>" in t and "**✅ Approved by CEO**" in t for t in plain_texts)
    assert "<at" not in approval_msg.raw_content  # no tag anywhere, plain_text included
    # The summary card for the author is safe as well.
    (summary,) = cards_to(harness, "ou_manager")
    assert validate_card(summary.card) == []

    # The cut field has a "full text" button: the whole value as a text message.
    full = button_value(card, "report.full")
    assert full["f"] == "support_needed"
    answer = await harness.click("ou_director", full, message_id=approval_msg.message_id)
    assert answer["toast"]["type"] == "success"
    (text_msg,) = [m for m in to(harness, "ou_director") if m.msg_type == "text"]
    assert big in text_msg.text and "需支持事项" in text_msg.text
    refused = await harness.click("ou_brand", full, message_id="om_forwarded")
    assert refused["toast"]["type"] == "error"
    assert [m for m in to(harness, "ou_brand") if m.msg_type == "text"] == []


async def test_unknown_forged_or_foreign_ids_get_a_clear_toast(harness):
    for value in (
        {"a": "report.approve", "v": 1, "r": 999999, "ver": 1},
        {"a": "report.reject", "v": 1, "r": "1; drop table reports", "ver": 1},
        {"a": "report.approve", "v": 1},
        {"a": "report.full", "v": 1, "r": 424242, "f": "risks"},
        {"a": "report.view", "v": 1, "r": [1]},
        {"a": "report.open", "v": 1, "t": 999999},
        {"a": "report.submit", "v": 1, "t": None},
    ):
        answer = await harness.click("ou_manager", value, form_value={"comment": "x"})
        assert answer["toast"]["type"] == "warning", (value, answer)
        assert "card" not in answer
    assert len(await audits(harness, "report.refused")) == 7

    # Submitting someone else's task with a forged value.
    task = await open_task(harness, "ou_manager", WEEKLY)
    forged = {"a": "report.submit", "v": 1, "t": task.id}
    answer = await harness.click("ou_brand", forged, form_value=WEEKLY_FORM)
    assert answer["toast"]["type"] == "error" and await rows(harness, Report) == []


async def test_closed_task_cannot_be_submitted_again(harness):
    form_msg, _ = await submit_weekly_by_form(harness)
    (approval_msg,) = cards_to(harness, "ou_director")
    await harness.click(
        "ou_director",
        button_value(approval_msg.card, "report.approve"),
        message_id=approval_msg.message_id,
    )
    value = button_value(harness.emulator.messages[0].content, "report.submit")
    answer = await harness.click(
        "ou_manager", value, message_id=form_msg.message_id, form_value=WEEKLY_FORM
    )
    assert answer["toast"]["type"] == "warning" and "card" not in answer
    assert (await one(harness, Report)).version == 1


async def test_report_approved_outside_the_department_is_recorded_by_an_admin(harness):
    await harness.say(
        "提交策略执行效果分析\n策略执行效果: 良好\n市场环境变化: 竞品降价\n调整优化方案: 加大投放",
        sender="ou_director",
    )
    report = await one(harness, Report)
    assert report.duty_key == "director.strategy_review" and report.approver_open_id is None
    (summary,) = cards_to(harness, "ou_director")
    assert "管理层" in text_of(summary.card)
    assert len(harness.emulator.messages) == 1  # no approval card: nobody in the bot approves

    await harness.say("待审批", sender="ou_manager")  # an admin sees it, to record the decision
    card = cards_to(harness, "ou_manager")[-1].card
    assert "周总监" in text_of(card) and "部门内无审批人" in text_of(card)
    view = button_value(card, "report.view")
    await harness.click("ou_manager", view)
    approval = cards_to(harness, "ou_manager")[-1]
    answer = await harness.click(
        "ou_manager",
        button_value(approval.card, "report.approve"),
        message_id=approval.message_id,
    )
    assert answer["toast"]["type"] == "success"
    assert (await one(harness, Report)).status == "approved"
    assert "已通过" in text_of(cards_to(harness, "ou_director")[-1].card)


async def test_author_view_sends_a_fresh_summary_that_later_decisions_update(harness):
    await submit_weekly_by_form(harness)
    await harness.say("我的报告", sender="ou_manager")
    listing = cards_to(harness, "ou_manager")[-1].card
    await harness.click("ou_manager", button_value(listing, "report.view"))
    fresh = cards_to(harness, "ou_manager")[-1]
    assert "项目进度周报" in text_of(fresh.card) and "report.open" in text_of(fresh.card)
    (approval_msg,) = cards_to(harness, "ou_director")
    await harness.click(
        "ou_director",
        button_value(approval_msg.card, "report.approve"),
        message_id=approval_msg.message_id,
    )
    assert "已通过" in text_of(harness.emulator.find_message(fresh.message_id).card)


async def test_form_submit_without_a_button_value_is_understood_by_name(harness):
    """Feishu's form submit buttons use form_action_type and may not echo a callback value:
    the click is matched to the button by its name in the card we sent."""
    await harness.say("提交周报", sender="ou_manager")
    form_msg = last_card(harness, "ou_manager")
    answer = await harness.click(
        "ou_manager",
        {},
        message_id=form_msg.message_id,
        form_value=WEEKLY_FORM,
        name="report_submit",
    )
    assert answer["toast"]["type"] == "success"
    report = await one(harness, Report)
    assert report.status == "submitted"
