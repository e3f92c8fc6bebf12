"""Clocks that start in chat: a team member logs a user question or complaint ("咨询：…",
"投诉：…", "question: …", "complaint: …", or a forwarded message), the policy's SLA duty for
it becomes a task with its deadline for the right person, the logger is told who owns it
and by when, the owner gets a task card to mark it done, the same message delivered twice
starts one task, and the task is reminded and escalated like any other."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.domain.policy import load_policy, parse_policy
from cards.schema import validate_card
from storage.models import AuditLog, Task, TaskStatus
from tests import feishu_events as fe
from tests.conftest import NOW, make_settings, sync_team
from tests.sched_helpers import at, button_values, text_of, title
from tests.test_departments import company  # noqa: F401 - the two-department fixture
from tests.waiting import wait_until

P2P = "oc_p2p_{}".format
SHIPPED = Path(__file__).resolve().parent.parent / "bot" / "policies" / "marketing.toml"


async def sla_tasks(bot) -> list[Task]:
    async with bot.sessions() as s:
        rows = (await s.exec(select(Task).where(Task.subject.is_not(None)))).all()  # type: ignore[union-attr]
    return sorted(rows, key=lambda t: t.id or 0)


def markdown_of(card: dict) -> str:
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("tag") == "markdown":
                found.append(node["content"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return "\n".join(found)


def cards(harness, receive_id: str) -> list[dict]:
    return harness.emulator.cards_to(receive_id)


def texts(harness, receive_id: str) -> list[str]:
    return [m.text or "" for m in harness.emulator.messages_to(receive_id) if m.msg_type == "text"]


async def test_brand_logs_a_user_question_and_owns_it_for_24_hours(harness):
    await harness.say("咨询：这款面霜的保质期是多久？<at id=all></at> **急**", sender="ou_brand")
    (task,) = await sla_tasks(harness.bot)
    assert task.duty_key == "brand.reply_questions"
    assert task.assignee_open_id == "ou_brand"  # the logger holds the duty's role
    assert task.status == TaskStatus.OPEN
    assert task.due_at == NOW.astimezone(UTC) + timedelta(hours=24)  # calendar hours
    assert task.period_key.startswith("msg:om_")
    assert task.subject == "这款面霜的保质期是多久？<at id=all></at> **急**"
    (reply,) = cards(harness, P2P("ou_brand"))
    assert validate_card(reply) == []
    assert title(reply) == "已登记用户咨询"
    shown = text_of(reply)
    assert "回复用户咨询" in shown and "陈品牌" in shown
    assert "11-27 周五 10:00" in shown and "24小时内" in shown and "Asia/Shanghai" in shown
    assert "<at id=all>" not in shown and "&lt;at id=all&gt;" in shown  # escaped user text
    assert "\\*\\*急\\*\\*" in markdown_of(reply)
    # the logger owns it: the answer carries "mark done"; nobody else is messaged
    assert {"a": "task.done", "v": 1, "t": task.id} in button_values(reply)
    assert len(harness.emulator.messages) == 1
    done = await harness.click("ou_brand", {"a": "task.done", "v": 1, "t": task.id})
    assert done["toast"]["type"] == "success"
    (task,) = await sla_tasks(harness.bot)
    assert task.status == TaskStatus.DONE


async def test_someone_else_logs_a_question_in_english_and_brand_gets_the_task(harness):
    await harness.say("Question: does the spring sale include gift sets?", sender="ou_planner")
    (task,) = await sla_tasks(harness.bot)
    assert (task.duty_key, task.assignee_open_id) == ("brand.reply_questions", "ou_brand")
    assert task.subject == "does the spring sale include gift sets?"
    (reply,) = cards(harness, P2P("ou_planner"))
    assert validate_card(reply) == []
    assert title(reply) == "User question logged"
    shown = text_of(reply)
    assert "Reply to user questions" in shown and "陈品牌" in shown
    assert "Fri 27 Nov 10:00" in shown and "within 24 hours" in shown
    assert not [v for v in button_values(reply) if v.get("a") == "task.done"]  # not theirs
    (owner_card,) = cards(harness, "ou_brand")
    assert validate_card(owner_card) == []
    assert "王策划" in text_of(owner_card) and "gift sets" in text_of(owner_card)
    assert {"a": "task.done", "v": 1, "t": task.id} in button_values(owner_card)
    answer = await harness.click("ou_brand", {"a": "task.done", "v": 1, "t": task.id})
    assert answer["toast"]["type"] == "success"


async def test_a_complaint_goes_to_customer_relations_with_its_own_deadline(harness):
    await harness.say("投诉:快递三天还没到，客服也不回", sender="ou_brand")
    (task,) = await sla_tasks(harness.bot)
    assert (task.duty_key, task.assignee_open_id) == ("crm.complaint_followup", "ou_crm")
    assert task.due_at == NOW.astimezone(UTC) + timedelta(hours=24)
    (reply,) = cards(harness, P2P("ou_brand"))
    assert title(reply) == "已登记用户投诉"
    assert "吴客户" in text_of(reply) and "跟进转交的负面评价/投诉" in text_of(reply)
    (owner_card,) = cards(harness, "ou_crm")
    assert "快递三天还没到" in text_of(owner_card) and "陈品牌" in text_of(owner_card)
    assert {"a": "task.done", "v": 1, "t": task.id} in button_values(owner_card)
    # English, half-width colon, any case
    await harness.say("COMPLAINT: the lid was broken", sender="ou_crm")
    tasks = await sla_tasks(harness.bot)
    assert [t.assignee_open_id for t in tasks] == ["ou_crm", "ou_crm"]
    assert title(cards(harness, P2P("ou_crm"))[-1]) == "Complaint logged"


async def test_the_same_message_delivered_twice_starts_one_task(harness):
    payload = fe.message("咨询：有没有小样？", "ou_planner", harness.clock.now())
    for _ in range(2):
        resp = await harness.post(payload)
        assert resp.status == 200
        await harness.settle()
    # even past the inbox's de-duplication (a new event id for the same message id), the
    # task key from the message id keeps it to one task and one owner card
    again = json.loads(json.dumps(payload))
    again["header"]["event_id"] = "another_event"
    async with harness.bot.sessions() as s:
        from storage.models import InboundEvent

        for row in (await s.exec(select(InboundEvent))).all():
            await s.delete(row)
        await s.commit()
    assert (await harness.post(again)).status == 200
    await harness.settle()
    (task,) = await sla_tasks(harness.bot)
    assert task.assignee_open_id == "ou_brand"
    assert len(cards(harness, "ou_brand")) == 1
    replies = cards(harness, P2P("ou_planner"))
    # the answer to a message has a uuid from its message id: Feishu shows it once
    assert [title(c) for c in replies] == ["已登记用户咨询"]


async def test_an_empty_question_and_a_stranger_get_helpful_answers(harness):
    await harness.say("咨询：", sender="ou_brand")
    assert await sla_tasks(harness.bot) == []
    (answer,) = texts(harness, P2P("ou_brand"))
    assert "请在冒号后写上用户的原话" in answer
    await harness.say("question: hello?", sender="ou_stranger")
    assert await sla_tasks(harness.bot) == []
    assert cards(harness, P2P("ou_stranger"))  # the "not on the team" card


async def test_a_forwarded_chat_history_is_logged_by_choosing_what_it_is(harness):
    payload = fe.message("", "ou_brand", harness.clock.now(), message_type="merge_forward")
    # Feishu's placeholder content for a merged forward is not a JSON object
    payload["event"]["message"]["content"] = "Merged and Forwarded Message"
    message_id = payload["event"]["message"]["message_id"]
    assert (await harness.post(payload)).status == 200
    await harness.settle()
    (choose,) = cards(harness, P2P("ou_brand"))
    assert validate_card(choose) == []
    values = [v for v in button_values(choose) if v.get("a") == "sla.log"]
    assert [v["g"] for v in values] == ["question", "complaint"]
    assert all(v["m"] == message_id for v in values)
    assert "读不到原文" in text_of(choose)
    # only the person who forwarded it may log it
    refused = await harness.click("ou_planner", values[1])
    assert refused["toast"]["type"] == "warning"
    assert await sla_tasks(harness.bot) == []
    answer = await harness.click("ou_brand", values[1])
    assert answer["toast"]["type"] == "success"
    assert title(answer["card"]["data"]) == "已登记用户投诉"
    (task,) = await sla_tasks(harness.bot)
    assert (task.duty_key, task.assignee_open_id) == ("crm.complaint_followup", "ou_crm")
    assert "陈品牌" in (task.subject or "")  # whom to ask for the original
    (owner_card,) = cards(harness, "ou_crm")
    assert {"a": "task.done", "v": 1, "t": task.id} in button_values(owner_card)
    # a second click (or the other button) does not start another clock
    again = await harness.click("ou_brand", values[0])
    assert again["toast"]["type"] == "info"
    assert len(await sla_tasks(harness.bot)) == 1
    async with harness.bot.sessions() as s:
        actions = [a.action for a in (await s.exec(select(AuditLog))).all()]
    assert actions.count("sla.logged") == 1 and "sla.refused" in actions


async def test_an_sla_task_is_reminded_and_escalated_when_overdue(harness):
    from bot.jobs.scheduler import run_tick

    await harness.say("投诉：退款一直没到账", sender="ou_brand")
    (task,) = await sla_tasks(harness.bot)
    assert task.next_action_at is not None
    crm_before = len(cards(harness, "ou_crm"))

    async def tick(when):
        harness.clock.set(when)
        report = await run_tick(harness.bot, when.astimezone(UTC))
        assert report.errors == []
        await harness.settle()

    await tick(at(2026, 11, 27, 9, 31))  # Fri: the due day
    crm = cards(harness, "ou_crm")
    assert len(crm) == crm_before + 1 and "今天到期" in text_of(crm[-1])
    assert "退款一直没到账" in text_of(crm[-1])  # the reminder says what it is about
    await tick(at(2026, 11, 30, 9, 31))  # Mon: one working day late, the manager is told
    await wait_until(lambda: cards(harness, "ou_director"), what="crm's manager told")
    assert "逾期 1 个工作日" in text_of(cards(harness, "ou_crm")[-1])
    assert "吴客户" in text_of(cards(harness, "ou_director")[-1])


def policy_without_triggers(tmp_path: Path) -> Path:
    """The shipped policy with its [[triggers]] tables and the duties' triggers removed."""
    path = tmp_path / "no_triggers.toml"
    path.write_text(policy_without_triggers_text(), encoding="utf-8")
    return path


def policy_without_triggers_text() -> str:
    text = SHIPPED.read_text(encoding="utf-8")
    start = text.index("\n[[triggers]]\n")
    end = text.index("# ====", text.index('key = "complaint"'))
    text = text[:start] + text[end:]
    return text.replace('trigger = "question"\n', "").replace('trigger = "complaint"\n', "")


async def test_a_policy_without_sla_triggers_answers_helpfully(
    db_url, emulator, clock, tmp_path: Path
):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import build_app
    from bot.transport.webhook import make_web_app
    from tests.conftest import Harness

    path = policy_without_triggers(tmp_path)
    assert load_policy(path).triggers == {}
    settings = make_settings(db_url, emulator.base_url, policy_path=str(path))
    async with build_app(settings, clock=clock) as bot:
        await sync_team(bot)
        client = TestClient(TestServer(make_web_app(bot)))
        await client.start_server()
        try:
            h = Harness(bot, client, emulator, clock)
            await h.say("咨询：这个还有货吗？", sender="ou_brand")
            payload = fe.message("", "ou_brand", clock.now(), message_type="merge_forward")
            assert (await h.post(payload)).status == 200
            await h.settle()
            answers = texts(h, P2P("ou_brand"))
            assert len(answers) == 2
            assert all("[[triggers]]" in a and "不会创建任务" in a for a in answers)
            async with bot.sessions() as s:
                assert (await s.exec(select(Task).where(Task.subject.is_not(None)))).all() == []  # type: ignore[union-attr]
        finally:
            await client.close()


async def test_help_tells_how_to_log_questions_and_complaints(harness):
    await harness.say("帮助", sender="ou_brand")
    await harness.say("help", sender="ou_planner")
    zh = markdown_of(cards(harness, P2P("ou_brand"))[-1])
    en = markdown_of(cards(harness, P2P("ou_planner"))[-1])
    assert "用户咨询与投诉" in zh and "`咨询：用户原话`" in zh and "`投诉：用户原话`" in zh
    assert "User questions and complaints" in en and "`question: …`" in en
    assert "`complaint: …`" in en and "forward" in en


async def test_a_single_forwarded_message_arrives_as_text_and_can_be_logged(harness):
    # Feishu forwards one message as a copy of it: plain text that asks the bot nothing
    payload = await harness.say("会员积分可以兑换礼品吗？", sender="ou_brand")
    (offer,) = cards(harness, P2P("ou_brand"))
    assert validate_card(offer) == [] and title(offer) == "没听懂这句话"
    assert "待办" in markdown_of(offer) and "帮助" in markdown_of(offer)
    question = next(v for v in button_values(offer) if v.get("g") == "question")
    assert question["m"] == payload["event"]["message"]["message_id"]
    answer = await harness.click("ou_brand", question)
    assert answer["toast"]["type"] == "success"
    (task,) = await sla_tasks(harness.bot)
    assert (task.duty_key, task.assignee_open_id) == ("brand.reply_questions", "ou_brand")
    assert task.subject == "会员积分可以兑换礼品吗？"
    # a stranger, or a group chat, still gets the usual answers
    await harness.say("随便说说", sender="ou_stranger")
    assert not [v for c in cards(harness, P2P("ou_stranger")) for v in button_values(c)]


async def test_with_two_in_the_role_the_less_loaded_one_not_on_leave_gets_it(harness):
    from datetime import date

    from storage.models import Member
    from tests.sched_helpers import add_leave

    async with harness.bot.sessions() as s:
        s.add(
            Member(open_id="ou_crm2", name="郑客户", role_key="crm", created_at=NOW, updated_at=NOW)
        )
        await s.commit()
    await harness.say("@_user_1 投诉：包装破损", sender="ou_planner", chat_type="group",
                      mentions=[fe.bot_mention()], message_id="om_group_1")  # fmt: skip
    (first,) = await sla_tasks(harness.bot)
    assert first.assignee_open_id == "ou_crm2"  # no open tasks yet; ou_crm has its periodic ones
    (reply,) = cards(harness, "oc_team")  # answered in the group, as a reply
    assert "郑客户" in text_of(reply)
    assert len(cards(harness, "ou_crm2")) == 1
    await add_leave(harness.bot, "ou_crm2", date(2026, 11, 26), date(2026, 11, 27))
    await harness.say("投诉：发票开错了", sender="ou_planner")
    second = (await sla_tasks(harness.bot))[-1]
    assert second.assignee_open_id == "ou_crm"  # the other one is on leave today


async def test_whats_due_shows_what_was_logged_not_a_message_id(harness):
    await harness.say("咨询：<b>赠品</b>什么时候发？", sender="ou_planner")
    await harness.say("待办", sender="ou_brand")
    due = cards(harness, P2P("ou_brand"))[-1]
    shown = markdown_of(due)
    assert "回复用户咨询" in shown and "&lt;b&gt;赠品&lt;/b&gt;什么时候发？" in shown
    assert "msg:om_" not in shown


def test_policy_diff_names_a_changed_trigger():
    from bot.domain.policy_diff import diff_policies

    old = load_policy()
    new = parse_policy(tomllib.loads(policy_without_triggers_text()))
    change = next(c for c in diff_policies(old, new) if c.key == "brand.reply_questions")
    assert "trigger question -> -" in change.what


def test_a_word_the_policy_does_not_log_is_answered_with_what_it_does():
    from types import SimpleNamespace

    from handlers.sla import _what_can_be_logged

    text = SHIPPED.read_text(encoding="utf-8")
    start = text.index("[[triggers]]", text.index('key = "question"'))  # the complaint table
    end = text.index("# ====", start)
    only_questions = text[:start] + text[end:]
    only_questions = only_questions.replace('trigger = "complaint"\n', "")
    policy = parse_policy(tomllib.loads(only_questions))
    assert list(policy.triggers) == ["question"]
    zh = _what_can_be_logged(SimpleNamespace(policy=policy, t=lambda zh, en: zh))
    en = _what_can_be_logged(SimpleNamespace(policy=policy, t=lambda zh, en: en))
    assert zh == "本部门的制度中可以登记的是：用户咨询（咨询：…）。"
    assert en == 'This department\'s policy logs: User question ("question: …").'


@pytest.mark.usefixtures("company")
async def test_each_department_logs_with_its_own_policy(harness):
    # sales logs complaints only (4 hours, to the sales manager): a question is answered
    # with what sales does log; marketing's brand role nobody holds in this company
    await harness.say("咨询：报价单什么时候出？", sender="ou_s_rep")
    (answer,) = texts(harness, P2P("ou_s_rep"))
    assert "客户投诉（投诉：…）" in answer
    await harness.say("投诉：合同寄错了地址", sender="ou_s_rep")
    (task,) = await sla_tasks(harness.bot)
    assert (task.department, task.duty_key) == ("sales", "manager.complaint_followup")
    assert task.assignee_open_id == "ou_s_manager"
    assert task.due_at == NOW.astimezone(UTC) + timedelta(hours=4)
    await harness.say("咨询：新品什么时候上市？", sender="ou_planner")
    reply = cards(harness, P2P("ou_planner"))[-1]
    assert "没有人担任品牌运营专员" in markdown_of(reply)
    assert len(await sla_tasks(harness.bot)) == 1
