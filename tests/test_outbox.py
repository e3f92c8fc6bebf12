"""Delivery is never abandoned while it can still matter, and never silently: outages
longer than any fixed retry count, per-purpose expiry, permanent errors, the admins' alert,
and fair claiming across receivers. Through the real SDK against the Feishu emulator."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import build_app
from bot.feishu.gateway import FeishuGateway
from bot.transport.webhook import make_web_app
from storage.models import OutboundMessage
from storage.outbox import enqueue
from tests import feishu_events as fe
from tests.conftest import Harness, make_settings, sync_team

ADMINS = {"ou_director", "ou_manager"}  # tests/data/team.toml


@pytest.fixture
async def quick(db_url, emulator, clock):
    """The harness, with one inline try per Feishu call: outages are ridden out by the
    outbox's own schedule (on the test clock), not by real sleeps inside the gateway."""
    settings = make_settings(db_url, emulator.base_url)
    gateway = FeishuGateway(
        settings.domain, settings.app_id, settings.app_secret, clock, attempts=1
    )
    bot = build_app(settings, clock=clock, gateway=gateway)
    await bot.prepare()
    await bot.connect_feishu()
    await sync_team(bot)
    client = TestClient(TestServer(make_web_app(bot)))
    await client.start_server()
    yield Harness(bot, client, emulator, clock)
    await client.close()
    await bot.stop()


async def rows(bot) -> list[OutboundMessage]:
    async with bot.sessions() as session:
        return list(
            (await session.exec(select(OutboundMessage).order_by(OutboundMessage.id))).all()
        )


def alerts(emulator) -> list:
    return [
        m
        for m in emulator.messages
        if m.card and "Messages not delivered" in m.card["header"]["title"]["content"]
    ]


async def ride(h: Harness, minutes: int, step: int = 1) -> None:
    """Let `minutes` of test time pass, running the outbox at every step."""
    for _ in range(0, minutes, step):
        h.clock.advance(timedelta(minutes=step))
        await h.bot.outbox.drain()


async def metric(h: Harness, name: str) -> str:
    text = await (await h.client.get("/metrics")).text()
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


async def test_an_answer_outlives_a_twenty_minute_outage(quick):
    quick.emulator.fail_next("im.message.create", status=503, times=100_000)
    await quick.say("待办", sender="ou_manager")
    await ride(quick, 20)
    assert quick.emulator.messages == []
    (row,) = await rows(quick.bot)
    assert row.status == "pending" and row.attempts > 8  # the old worker parked it at 8
    assert row.next_attempt_at - quick.clock.now() <= timedelta(minutes=5)  # capped backoff
    quick.emulator.clear_faults()
    await ride(quick, 5)
    assert [m.receive_id for m in quick.emulator.messages] == ["oc_p2p_ou_manager"]
    assert (await rows(quick.bot))[0].status == "sent"


async def test_answers_expire_reminders_survive_and_admins_hear_once(quick, caplog):
    quick.emulator.fail_next("im.message.create", status=503, times=100_000)
    await quick.say("待办", sender="ou_planner")
    await quick.say("待办", sender="ou_brand")
    async with quick.bot.sessions() as session:  # a reminder card queued in the same outage
        await enqueue(
            session,
            uuid="rm-outage",
            now=quick.clock.now(),
            kind="send",
            purpose="reminder",
            body="提醒 reminder",
            msg_type="text",
            receive_id_type="open_id",
            receive_id="ou_crm",
        )
        await session.commit()
    with caplog.at_level(logging.ERROR, logger="dutybot.outbox"):
        await ride(quick, 4 * 60, step=5)  # four hours down
    by_uuid = {r.uuid: r for r in await rows(quick.bot)}
    answers = [r for r in by_uuid.values() if r.purpose == "answer"]
    assert [r.status for r in answers] == ["expired", "expired"]
    assert by_uuid["rm-outage"].status == "pending"  # a reminder still matters
    assert any("undelivered: 2 answer message(s), expired" in r.message for r in caplog.records)
    assert 'dutybot_outbox_undelivered_total{kind="answer",reason="expired"} 2.0' in await metric(
        quick, "dutybot_outbox_undelivered_total"
    )
    quick.emulator.clear_faults()
    await ride(quick, 10)
    got = {m.receive_id for m in quick.emulator.messages}
    assert "ou_crm" in got  # the reminder arrived after the outage
    assert not {"oc_p2p_ou_planner", "oc_p2p_ou_brand"} & got  # stale answers never did
    assert sorted(m.receive_id for m in alerts(quick.emulator)) == sorted(ADMINS)  # once each


async def test_permanent_error_is_not_retried_and_alerted_once_per_incident(quick):
    quick.emulator.fail_next(
        "im.message.create", status=400, code=230013, msg="user not in availability", times=2
    )
    for sender in ("ou_planner", "ou_brand"):  # two losses, one incident: one card each
        await quick.post(fe.message("待办", sender, quick.clock.now()))
    await quick.bot.inbox.drain()
    await ride(quick, 30)
    statuses = [(r.purpose, r.status) for r in await rows(quick.bot)]
    assert statuses.count(("answer", "failed")) == 2
    assert len(quick.emulator.requests_for("im.message.create")) == 2 + len(ADMINS)
    cards = alerts(quick.emulator)
    assert sorted(m.receive_id for m in cards) == sorted(ADMINS)
    text = str(cards[0].card)
    assert "230013" in text and "chat answers" in text and "聊天回复" in text
    assert 'kind="answer",reason="permanent"} 2.0' in await metric(
        quick, "dutybot_outbox_undelivered_total"
    )
    # Seven quiet hours later a new loss is a new incident.
    quick.clock.advance(timedelta(hours=7))
    quick.emulator.fail_next("im.message.create", status=400, code=230002, msg="bot not in chat")
    await quick.say("待办", sender="ou_crm")
    assert len(alerts(quick.emulator)) == 2 * len(ADMINS)


async def test_a_payload_error_is_reported_not_retried(quick):
    quick.emulator.fail_next("im.message.create", status=400, code=230025, msg="too long")
    await quick.say("待办", sender="ou_planner")
    await ride(quick, 10)
    (answer, *_) = await rows(quick.bot)
    assert answer.status == "failed" and answer.attempts == 1
    assert 'kind="answer",reason="payload"} 1.0' in await metric(
        quick, "dutybot_outbox_undelivered_total"
    )


async def test_a_busy_chat_does_not_delay_another_chats_answer(harness):
    """300 announcements into one chat (60 s of its 5/s limit), then someone asks in a
    private chat: the answer goes out in the next pass, not after the backlog."""
    async with harness.bot.sessions() as session:
        for i in range(300):
            await enqueue(
                session,
                uuid=f"bulk-{i}",
                now=harness.clock.now(),
                kind="send",
                body=f"公告 {i}",
                msg_type="text",
                receive_id_type="chat_id",
                receive_id="oc_team",
            )
        await session.commit()
    harness.bot.start_workers()
    await harness.emulator.await_messages(3, timeout=10)  # the backlog is being worked on
    started = time.perf_counter()
    await harness.post(fe.message("待办", "ou_manager", harness.clock.now()))
    deadline = time.monotonic() + 10
    while not harness.emulator.messages_to("oc_p2p_ou_manager"):
        assert time.monotonic() < deadline, "the answer waited behind the busy chat"
        await asyncio.sleep(0.05)
    waited = time.perf_counter() - started
    busy = len(harness.emulator.messages_to("oc_team"))
    assert waited < 3.0, waited
    assert busy < 100  # the backlog was still going (not simply finished first)
    assert harness.emulator.stats["http_429"] == 0


async def test_a_lost_reminder_is_planned_again_and_a_sent_one_is_not(harness):
    from bot.jobs.reminders import send_round
    from tests.sched_helpers import add_task, at, clear_tasks

    bot, emu = harness.bot, harness.emulator
    await clear_tasks(bot)
    await add_task(bot, "planner.preparation", "ou_planner", at(2026, 12, 4, 18))
    emu.fail_next("im.message.create", status=400, code=230013, msg="outside availability")
    for minute in (30, 45, 59):  # three rounds in the heads-up hour
        harness.clock.set(at(2026, 12, 3, 9, minute))
        await send_round(bot.sessions, bot.services, harness.clock.now())
        await bot.outbox.drain()
    to_planner = [m for m in emu.messages_to("ou_planner") if m.card]
    assert len(to_planner) == 1  # the first card was refused; the second went; no third
    assert "即将到期" in str(to_planner[0].card)
    statuses = sorted(r.status for r in await rows(bot) if r.purpose == "reminder")
    assert statuses == ["failed", "sent"]


def test_tick_delivers_the_retries_it_schedules_before_it_exits(run_cli, emulator):
    from tests.conftest import TEAM_FILE

    assert run_cli("org", "sync", str(TEAM_FILE)).returncode == 0
    emulator.fail_next("im.message.create", status=503, times=5)  # more than one call's tries
    env = {
        "FEISHU_APP_ID": fe.APP_ID,
        "FEISHU_APP_SECRET": fe.APP_SECRET,
        "FEISHU_VERIFICATION_TOKEN": fe.VERIFICATION_TOKEN,
        "FEISHU_ENCRYPT_KEY": fe.ENCRYPT_KEY,
        "FEISHU_DOMAIN": emulator.base_url,
    }
    result = run_cli("tick", "--now", "2026-12-07T09:45:00+08:00", "--deliver-for", "30", env=env)
    assert result.returncode == 0, result.stderr
    assert emulator.stats["faults_injected"] == 5
    assert len(emulator.messages) >= 5
    status = run_cli("tick", "--now", "2026-12-07T09:46:00+08:00", "--deliver-for", "0", env=env)
    assert "outbox: 0 message(s) handled" in status.stdout  # nothing was left waiting
