"""Digests: what the weekly digest says (per person and role: on time / late / missing /
excused, completion rate, everything overdue, KPI misses, the next two weeks, support
needed), when it goes (Friday 17:00; the monthly one on the first working day), once per
chat and period, never empty; and the manager's weekly-progress draft from the same data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlmodel import select

from bot.dispatch.context import Ctx
from bot.jobs.digests import send_digests
from bot.services.digests import weekly_progress_draft
from cards.schema import validate_card
from storage.models import Marker, Report, TaskStatus


def elements_of(card: dict, tag: str) -> list[dict]:
    return [e for e in card["body"]["elements"] if e.get("tag") == tag]


from tests import feishu_events as fe  # noqa: E402
from tests.sched_helpers import (  # noqa: E402
    add_leave,
    add_task,
    at,
    clear_tasks,
    content,
    last_outbox_id,
    outbox,
    text_of,
    title,
    with_settings,
)

MISS = {
    "key": "attendance",
    "label_zh": "到场率",
    "label_en": "Attendance",
    "value": 0.6,
    "display": "60%",
    "op": ">=",
    "threshold": 0.8,
    "threshold_display": "80%",
    "ok": False,
}
HIT = {**MISS, "key": "other", "label_zh": "成交额", "ok": True}


async def add_report(bot, task, *, status, submitted, decided=None, values=None, kpis=()) -> None:
    async with bot.sessions() as s:
        s.add(
            Report(
                task_id=task.id,
                duty_key=task.duty_key,
                author_open_id=task.assignee_open_id,
                approver_open_id="ou_manager",
                status=status,
                values=json.dumps(values or {}, ensure_ascii=False),
                kpis=json.dumps(list(kpis), ensure_ascii=False),
                submitted_at=submitted.astimezone(UTC),
                decided_at=decided.astimezone(UTC) if decided else None,
                created_at=submitted.astimezone(UTC),
                updated_at=submitted.astimezone(UTC),
            )
        )
        await s.commit()


async def week_49(bot) -> dict:
    """Week 2026-W49 (Mon 11-30 .. Sun 12-06) with one task of every kind."""
    await clear_tasks(bot)
    t = {}
    t["on_time"] = await add_task(
        bot,
        "planner.preparation",
        "ou_planner",
        at(2026, 12, 1, 18),
        status=TaskStatus.DONE,
        done_at=at(2026, 12, 1, 10).astimezone(UTC),
    )
    t["late"] = await add_task(
        bot,
        "planner.preparation",
        "ou_planner",
        at(2026, 12, 2, 18),
        period_key="p2",
        status=TaskStatus.DONE,
        done_at=at(2026, 12, 3, 11).astimezone(UTC),
    )
    t["report"] = await add_task(
        bot,
        "planner.execution_report",
        "ou_planner",
        at(2026, 12, 2, 18),
        status=TaskStatus.APPROVED,
    )
    await add_report(
        bot,
        t["report"],
        status="approved",
        submitted=at(2026, 12, 1, 16),
        decided=at(2026, 12, 2, 9),
        kpis=[MISS, HIT],
    )
    t["missing"] = await add_task(bot, "digital.promotion_plan", "ou_digital", at(2026, 12, 3, 18))
    await add_leave(bot, "ou_research", date(2026, 12, 3), date(2026, 12, 4))
    t["excused"] = await add_task(
        bot, "research.audience_research", "ou_research", at(2026, 12, 3, 18)
    )
    t["pending"] = await add_task(
        bot, "manager.weekly_progress", "ou_manager", at(2026, 12, 4, 18), period_key="2026-W49"
    )
    t["old"] = await add_task(bot, "brand.content_publishing", "ou_brand", at(2026, 11, 24, 18))
    t["soon"] = await add_task(bot, "crm.feedback_summary", "ou_crm", at(2026, 12, 15, 18))
    last_week = await add_task(
        bot,
        "manager.weekly_progress",
        "ou_manager",
        at(2026, 11, 27, 18),
        period_key="2026-W48",
        status=TaskStatus.APPROVED,
    )
    await add_report(
        bot,
        last_week,
        status="approved",
        submitted=at(2026, 11, 27, 17),
        decided=at(2026, 11, 27, 18),
        values={"completion_rate": 0.9, "risks": "无", "support_needed": "需要设计支持：海报两张"},
    )
    return t


async def digests_at(bot, when) -> list:
    before = await last_outbox_id(bot)
    await send_digests(bot.sessions, bot.services, when.astimezone(UTC))
    return await outbox(bot, after_id=before)


async def test_weekly_digest_content(harness):
    bot = harness.bot
    await week_49(bot)
    assert await digests_at(bot, at(2026, 12, 4, 16, 59)) == []  # not before Friday 17:00
    (row,) = await digests_at(bot, at(2026, 12, 4, 17))
    assert row.receive_id == "oc_team" and row.receive_id_type == "chat_id"
    card = content(row)
    assert validate_card(card) == []
    text = text_of(card)
    assert title(card) == "每周汇总 · 2026年第49周（11-30 – 12-06）"
    # the week: on time 2 (one a report submitted early), late 1, missing 1, excused 1, pending 1
    assert "本期到期 **6** 项 · 完成率 **75%** · 当前逾期 **3** 项" in text
    assert "按时 2 · 逾期完成 1 · 未完成 1 · 请假 1 · 未到期 1" in text
    # per person: a table, one row each, numbers in number columns
    (people,) = elements_of(card, "table")
    rows = {r["name"]: r for r in people["rows"]}
    assert rows["王策划"] == {
        "name": "王策划",
        "role": "市场策划专员",
        "on_time": 2,
        "late": 1,
        "missing": 0,
        "excused": 0,
        "pending": 0,
        "rate": "100%",
    }
    assert rows["赵数字"]["missing"] == 1 and rows["赵数字"]["rate"] == "0%"
    assert rows["孙调研"]["excused"] == 1 and rows["孙调研"]["rate"] == "—"
    assert [c["display_name"] for c in people["columns"]][:3] == ["成员", "岗位", "按时"]
    # charts: the team's rate over 8 weeks (last week's approved report counts), per role now
    trend, roles = elements_of(card, "chart")
    values = trend["chart_spec"]["data"][0]["values"]
    assert [v["period"] for v in values][-2:] == ["11-23", "11-30"]
    assert len(values) == 8 and values[-1]["rate"] == 75.0
    assert values[-2]["rate"] == 50.0  # W48: weekly progress done, brand's 11-24 missing
    by_role = {v["role"]: v["rate"] for v in roles["chart_spec"]["data"][0]["values"]}
    assert by_role["市场策划专员"] == 100.0 and by_role["数字营销专员"] == 0.0
    assert "市场调研专员" not in by_role  # excused only: no rate
    # everything overdue, the excused one flagged, last week's one included
    assert "逾期事项（3）" in text
    assert "陈品牌：内容更新发布" in text
    assert "孙调研：活动目标客群调研" in text and "请假" in text
    assert "赵数字：活动线上推广方案" in text
    # KPI misses from approved reports, not the KPIs that passed
    assert "到场率" in text and "60%" in text and "≥ 80%" in text and "成交额" not in text
    assert "未来两周到期（2）" in text and "吴客户：月度客户反馈汇总" in text
    assert "需支持事项" in text and "需要设计支持：海报两张" in text
    assert card["config"]["summary"]["content"] == "完成率 75% · 逾期 3 项"
    # once per chat and week
    assert await digests_at(bot, at(2026, 12, 4, 17, 1)) == []
    assert await digests_at(bot, at(2026, 12, 6, 20)) == []
    async with bot.sessions() as s:
        keys = (await s.exec(select(Marker.key).where(Marker.key.like("digest:%")))).all()
    assert keys == ["digest:weekly:2026-W49:oc_team"]


async def test_no_empty_digest(harness):
    bot = harness.bot
    await clear_tasks(bot)
    assert await digests_at(bot, at(2026, 12, 4, 17)) == []
    stats = await send_digests(bot.sessions, bot.services, at(2026, 12, 4, 17, 5).astimezone(UTC))
    assert stats.sent == 0  # decided once (empty), not re-built every minute
    async with bot.sessions() as s:
        keys = (await s.exec(select(Marker.key).where(Marker.key.like("digest:%")))).all()
    assert keys == ["digest:weekly:2026-W49:oc_team"]


async def test_every_team_chat_gets_one(harness):
    from storage.models import Chat

    bot = harness.bot
    await week_49(bot)
    async with bot.sessions() as s:
        s.add(
            Chat(
                chat_id="oc_second",
                name="市场部二组",
                is_team=True,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
        s.add(
            Chat(
                chat_id="oc_other",
                name="闲聊",
                is_team=False,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
        await s.commit()
    rows = await digests_at(bot, at(2026, 12, 4, 17, 30))
    assert sorted(r.receive_id for r in rows) == ["oc_second", "oc_team"]
    assert len({r.uuid for r in rows}) == 2


async def test_weekly_digest_moves_off_a_holiday_and_is_configurable(harness):
    bot = harness.bot
    await add_task(bot, "planner.preparation", "ou_planner", at(2026, 9, 30, 18))
    # week 40: Fri 10-02 is National Day; the last working day before it is Wed 09-30
    assert await digests_at(bot, at(2026, 9, 30, 16, 59)) == []
    (row,) = await digests_at(bot, at(2026, 9, 30, 17))
    assert "2026年第40周" in title(content(row))
    with_settings(bot, weekly_digest="mon 09:30", monthly_digest="off")
    assert await digests_at(bot, at(2026, 12, 7, 9, 29)) == []
    (row,) = await digests_at(bot, at(2026, 12, 7, 9, 30))  # Monday morning now
    assert "2026年第50周" in title(content(row))
    with_settings(bot, weekly_digest="off")
    assert await digests_at(bot, at(2026, 12, 14, 9, 30)) == []


async def test_monthly_digest_on_the_first_working_day(harness):
    bot = harness.bot
    with_settings(bot, weekly_digest="off")
    await clear_tasks(bot)
    await add_task(bot, "brand.faq", "ou_brand", at(2026, 11, 30, 18))
    assert await digests_at(bot, at(2026, 12, 1, 9, 59)) == []
    (row,) = await digests_at(bot, at(2026, 12, 1, 10))  # Tuesday 1 December
    card = content(row)
    assert title(card) == "月度汇总 · 2026年11月"
    assert "本期到期 **1** 项" in text_of(card)
    assert await digests_at(bot, at(2026, 12, 2, 10)) == []
    # October 2026: the 1st-7th are National Day; the first working day is the 8th
    await add_task(bot, "brand.faq", "ou_brand", at(2026, 9, 30, 18), period_key="2026-09")
    for day in range(1, 8):
        assert await digests_at(bot, at(2026, 10, day, 11)) == []
    (row,) = await digests_at(bot, at(2026, 10, 8, 10))
    assert title(content(row)) == "月度汇总 · 2026年9月"
    # a bot that was down on the 1st catches up for two working days, not all month
    assert await digests_at(bot, at(2026, 11, 5, 10)) == []  # Nov 2 + 2 WD = Nov 4


async def test_weekly_progress_draft_uses_the_digest_numbers(harness):
    bot = harness.bot
    t = await week_49(bot)
    async with bot.sessions() as s:
        ctx = Ctx(s, at(2026, 12, 4, 16).astimezone(UTC), bot.services, source="test")
        draft = await weekly_progress_draft(s, bot.services, ctx.now, t["pending"])
    assert draft["completion_rate"] == 0.75  # a fraction: 75 %
    risks = draft["risks"]
    assert "赵数字：活动线上推广方案" in risks and "陈品牌：内容更新发布" in risks
    assert "到场率 60%" in risks
    assert "孙调研" not in risks  # excused (on leave), not a risk


async def test_weekly_progress_form_is_prefilled(harness):
    from handlers.reports import PREFILL
    from handlers.tasks import draft_weekly_progress

    assert PREFILL["manager.weekly_progress"] is draft_weekly_progress
    t = await week_49(harness.bot)
    harness.clock.set(at(2026, 12, 4, 16))
    answer = await harness.click("ou_manager", {"a": "report.open", "v": 1, "t": t["pending"].id})
    cards = [answer.get("card", {}).get("data")] + [m.card for m in harness.emulator.messages]
    form = next(c for c in cards if c and "赵数字" in text_of(c))
    assert "75" in text_of(form)


async def test_manager_asks_for_the_digest_in_chat(harness):
    bot = harness.bot
    await week_49(bot)
    harness.clock.set(at(2026, 12, 3, 11))
    await harness.say("本周汇总", sender="ou_manager")
    (msg,) = harness.emulator.messages
    card = msg.card
    assert validate_card(card) == []
    assert title(card) == "每周汇总 · 2026年第49周（11-30 – 12-06）"
    (people,) = elements_of(card, "table")
    assert {r["name"] for r in people["rows"]} >= {"王策划", "赵数字"}
    assert len(elements_of(card, "chart")) == 2
    # in English, last month; in a group the answer replies to the asker's message
    await harness.say(
        "@_user_1 last month's digest",
        sender="ou_director",
        chat_type="group",
        mentions=[fe.bot_mention()],
    )
    reply = harness.emulator.messages[-1]
    assert title(reply.card) == "Monthly digest · November 2026"
    assert "Member" in text_of(reply.card)


async def test_digest_is_refused_to_people_who_manage_nobody(harness):
    bot = harness.bot
    await week_49(bot)
    await harness.say("digest", sender="ou_planner")
    (msg,) = harness.emulator.messages
    assert "managers" in msg.text and msg.card is None
    await harness.say("本周汇总", sender="ou_stranger")
    assert "经理" in harness.emulator.messages[-1].text
    # the team as it is now: the manager loses their reports, then is refused too
    async with bot.sessions() as s:
        from storage.models import Member

        for m in (await s.exec(select(Member))).all():
            if m.open_id != "ou_planner":
                m.active = False
        manager = await s.get(Member, "ou_planner")
        manager.role_key = "manager"
        await s.commit()
    await harness.say("本周汇总", sender="ou_planner")
    assert "经理" in harness.emulator.messages[-1].text
