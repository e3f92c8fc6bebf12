"""A team whose names, reports, mentions and activity titles are all hostile, through the
real path: team file → signed webhook → handlers → outbox → lark-oapi → emulator. Every
message Feishu gets (cards, text messages, card updates) and every callback answer (toasts,
cards) holds no <at> tag anywhere (plain_text included), every card is valid and every
message under Feishu's size limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.devtools.emulator.content import CARD_MAX_BYTES, TEXT_MAX_BYTES
from bot.jobs.scheduler import run_tick
from bot.transport.webhook import make_web_app
from cards.schema import validate_card
from tests.conftest import SHANGHAI, TEAM_FILE, Harness, make_settings, sync_team
from tests.sched_helpers import new_activity
from tests.test_hostile_text import HOSTILE, rendered_only
from tests.test_reports import apply, button_value, last_card
from tests.test_team_chat import group_say

AT_TAG = re.compile(r"<\s*/?\s*at\b", re.IGNORECASE)


def hostile_team_file(tmp_path: Path) -> Path:
    """The test team, every name followed by the hostile text (a TOML literal string)."""
    text = TEAM_FILE.read_text(encoding="utf-8")
    text = re.sub(r'^name = "([^"]*)"$', lambda m: f"name = '{m[1]} {HOSTILE}'", text, flags=re.M)
    path = tmp_path / "team.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def hostile(db_url, emulator, clock, tmp_path):
    settings = make_settings(db_url, emulator.base_url)
    async with build_app(settings, clock=clock) as bot:
        await sync_team(bot, hostile_team_file(tmp_path))
        client = TestClient(TestServer(make_web_app(bot)))
        await client.start_server()
        yield Harness(bot, client, emulator, clock)
        await client.close()


def live_tags(node) -> list[str]:
    shown = json.dumps(rendered_only(node), ensure_ascii=False)
    return [shown[max(0, m.start() - 60) : m.start() + 30] for m in AT_TAG.finditer(shown)]


async def test_hostile_names_and_texts_through_the_webhook(hostile):
    h = hostile
    answers: list[dict] = []
    # what's due, who am I, help, an unknown request echoing text, a digest, pending lists
    for text, who in [
        ("待办", "ou_planner"),
        ("what's due?", "ou_crm"),
        ("我是谁", "ou_brand"),
        ("帮助", "ou_planner"),
        (f"随便说点 {HOSTILE}", "ou_planner"),
        ("本周汇总", "ou_director"),
        ("待审批", "ou_director"),
        ("我的报告", "ou_manager"),
        ("活动列表", "ou_manager"),
        (f"请假 {HOSTILE} 2026-12-01", "ou_manager"),
    ]:
        await h.say(text, sender=who)
    # admins naming people by @-mention: names from the event, not on the team
    outsider = ("ou_outsider", f"外人 {HOSTILE}")
    await group_say(h, "设置审批人 {} {}", "ou_manager", outsider, ("ou_director", HOSTILE))
    await group_say(h, "移除 {}", "ou_manager", outsider)
    await group_say(h, "绑定 {} 市场策划专员", "ou_manager", ("ou_newbie", f"新人 {HOSTILE}"))
    # a weekly report with hostile fields: the approver's card, the author's copy, full text
    await h.say(
        f"提交周报\n完成率: 85\n风险点: {HOSTILE}\n需支持事项: {HOSTILE * 400}",
        sender="ou_manager",
    )
    approval = last_card(h, "ou_director")
    answers.append(
        await h.click(
            "ou_director",
            button_value(approval.card, "report.full"),
            message_id=approval.message_id,
        )
    )
    reject = button_value(approval.card, "report.reject")
    answer = await h.click(
        "ou_director",
        reject,
        message_id=approval.message_id,
        form_value={"comment": f"重写 {HOSTILE}"},
        name="report_reject",
    )
    answers.append(answer)
    apply(h, approval.message_id, answer)
    # an activity with a hostile title: its tasks, the plan summary, the reminders and digest
    await new_activity(h.bot, date(2026, 12, 7), date(2026, 12, 7), title=f"发布会 {HOSTILE}")
    await h.settle()
    for when in [datetime(2026, 11, 27, 9, 0), datetime(2026, 12, 4, 17, 30)]:
        h.clock.set(when.replace(tzinfo=SHANGHAI))
        await run_tick(h.bot, h.clock.now().astimezone(UTC))
        await h.settle()

    sent = h.emulator.messages
    assert len(sent) >= 20
    kinds = {m.msg_type for m in sent}
    assert kinds == {"interactive", "text"}
    for m in sent:
        assert live_tags(m.content) == [], (m.msg_type, live_tags(m.content))
        limit = CARD_MAX_BYTES if m.msg_type == "interactive" else TEXT_MAX_BYTES
        assert len(m.raw_content.encode()) <= limit
        if m.msg_type == "interactive":
            assert validate_card(m.content) == [], m.content["header"]
        for update in m.updates:
            assert live_tags(update.content) == []
            if isinstance(update.content, dict) and update.content.get("schema") == "2.0":
                assert validate_card(update.content) == []
    for answer in answers:
        assert live_tags(answer) == []
    texts = [m.content["text"] for m in sent if m.msg_type == "text"]
    assert any("＜at id=all>" in t for t in texts)  # shown, as text, not a tag
