"""Feishu's at-least-once delivery, forged and malformed requests, and a slow or failing API."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from sqlmodel import func, select

from bot.app import build_app
from bot.transport.webhook import make_web_app
from cards.actions import CardAction
from storage.models import InboundEvent, OutboundMessage
from tests import feishu_events as fe
from tests.conftest import Harness, make_settings


async def count(bot, model, *where) -> int:
    async with bot.sessions() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def test_same_event_three_times_answers_once(harness):
    payload = fe.message("待办", "ou_manager", harness.clock.now())
    for _ in range(3):
        resp = await harness.post(payload)
        assert resp.status == 200
    await harness.settle()
    assert len(harness.emulator.messages) == 1
    assert await count(harness.bot, InboundEvent) == 1


async def test_same_message_under_a_new_event_id_answers_once(harness):
    first = fe.message("待办", "ou_manager", harness.clock.now(), message_id="om_same")
    second = fe.message("待办", "ou_manager", harness.clock.now(), message_id="om_same")
    assert first["header"]["event_id"] != second["header"]["event_id"]
    await harness.post(first)
    await harness.settle()
    await harness.post(second)
    await harness.settle()
    assert len(harness.emulator.messages) == 1


async def test_redelivery_after_restart_is_recognised(harness, db_url, emulator, clock):
    payload = fe.message("待办", "ou_manager", clock.now())
    await harness.post(payload)
    await harness.settle()
    await harness.bot.stop()
    clock.advance(timedelta(hours=6))  # Feishu's last retry comes ~6 h later
    bot = build_app(make_settings(db_url, emulator.base_url), clock=clock)
    await bot.start()
    from aiohttp.test_utils import TestClient, TestServer

    client = TestClient(TestServer(make_web_app(bot)))
    await client.start_server()
    try:
        again = Harness(bot, client, emulator, clock)
        resp = await again.post(payload)
        assert resp.status == 200
        await again.settle()
        assert len(emulator.messages) == 1
    finally:
        await client.close()
        await bot.stop()


async def test_stale_event_is_acknowledged_and_dropped(harness):
    payload = fe.message("待办", "ou_manager", harness.clock.now() - timedelta(hours=13))
    resp = await harness.post(payload)
    assert resp.status == 200
    await harness.settle()
    assert harness.emulator.messages == []
    assert await count(harness.bot, InboundEvent, InboundEvent.status == "dropped") == 1


async def test_forged_requests_are_refused_and_leave_no_trace(harness):
    payload = fe.message("待办", "ou_manager", harness.clock.now())
    wrong_key = await harness.post(payload, encrypt_key="not the key")
    assert wrong_key.status == 401
    assert (await wrong_key.json()) == {"msg": "invalid signature"}
    payload["header"]["token"] = "forged"
    wrong_token = await harness.post(payload)
    assert wrong_token.status == 401
    req = fe.sign(fe.message("待办", "ou_manager", harness.clock.now()))
    unsigned = await harness.client.post("/feishu/events", data=req.body)
    assert unsigned.status == 401
    await harness.settle()
    assert harness.emulator.messages == []
    assert await count(harness.bot, InboundEvent) == 0


async def test_malformed_bodies_get_4xx_never_5xx(harness):
    for body in (
        b"",
        b"{",
        b"null",
        b'{"encrypt": "%%%"}',
        b"\x00\xff",
        b"[" * 50000,
        json.dumps({"encrypt": "QUFBQQ=="}).encode(),
    ):
        resp = await harness.client.post("/feishu/events", data=body)
        assert 400 <= resp.status < 500, (body[:20], resp.status)
    big = await harness.client.post("/feishu/events", data=b"x" * (1024 * 1024 + 10))
    assert big.status == 413


async def test_url_verification_is_answered(harness):
    payload = {"challenge": "c-123", "token": fe.VERIFICATION_TOKEN, "type": "url_verification"}
    started = time.perf_counter()
    resp = await harness.post(payload)
    assert resp.status == 200 and await resp.json() == {"challenge": "c-123"}
    assert time.perf_counter() - started < 1.0


async def test_healthz(harness):
    resp = await harness.client.get("/healthz")
    assert resp.status == 200 and (await resp.json())["database"] is True


async def test_webhook_answers_fast_while_feishu_is_slow(harness):
    harness.emulator.set_delay("im.message.create", 4.0)
    harness.bot.start_workers()
    started = time.perf_counter()
    resp = await harness.post(fe.message("待办", "ou_manager", harness.clock.now()))
    elapsed = time.perf_counter() - started
    assert resp.status == 200 and elapsed < 1.0
    messages = await harness.emulator.await_messages(1, timeout=10)
    assert len(messages) == 1


async def test_server_errors_are_retried_without_duplicates(harness):
    harness.emulator.fail_after_commit("im.message.create", times=1)  # stored, but answered 500
    harness.emulator.fail_next(
        "im.message.create", status=502, body=b"<html>bad gateway</html>", times=1
    )
    await harness.say("待办", sender="ou_manager")
    assert len(harness.emulator.messages) == 1
    async with harness.bot.sessions() as session:
        row = (await session.exec(select(OutboundMessage))).one()
    assert row.status == "sent" and row.feishu_message_id == harness.emulator.messages[0].message_id


async def test_permanent_errors_are_not_retried(harness):
    harness.emulator.fail_next(
        "im.message.create", status=400, code=230013, msg="user not in availability", times=1
    )
    await harness.say("待办", sender="ou_planner")
    assert not harness.emulator.messages_to("oc_p2p_ou_planner")
    async with harness.bot.sessions() as session:
        row = (await session.exec(select(OutboundMessage).where(OutboundMessage.id == 1))).one()
    assert row.status == "failed" and "230013" in (row.last_error or "")
    # Tried once; the other sends are the admins' alert (tests/test_outbox.py).
    assert len(harness.emulator.requests_for("im.message.create")) == 1 + 2


async def test_invalid_token_is_refreshed_once(harness):
    await harness.say("待办", sender="ou_manager")
    harness.emulator.revoke_tokens()
    await harness.say("待办", sender="ou_brand")
    assert len(harness.emulator.messages) == 2
    assert len(harness.emulator.requests_for("auth.tenant_token")) == 2


async def test_rate_limit_answer_waits_for_reset(harness):
    harness.emulator.fail_next(
        "im.message.create",
        status=429,
        code=99991400,
        msg="request trigger frequency limit",
        headers={"x-ogw-ratelimit-reset": "1"},
        times=1,
    )
    started = time.perf_counter()
    await harness.say("待办", sender="ou_manager")
    assert len(harness.emulator.messages) == 1
    assert time.perf_counter() - started >= 1.0


async def test_failing_handler_is_retried_and_the_event_kept(harness):
    calls = []

    async def flaky(ctx, event, intent):
        calls.append(event.message_id)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        await ctx.answer("ok", msg_type="text")

    harness.bot.router.messages["unknown"] = flaky
    await harness.post(fe.message("something odd", "ou_manager", harness.clock.now()))
    await harness.settle()
    assert harness.emulator.messages == []  # first attempt failed: nothing sent, nothing lost
    async with harness.bot.sessions() as session:
        row = (await session.exec(select(InboundEvent))).one()
    assert row.status == "pending" and row.attempts == 1 and "database hiccup" in row.last_error
    harness.clock.advance(timedelta(seconds=5))
    await harness.settle()
    assert len(calls) == 2 and [m.text for m in harness.emulator.messages] == ["ok"]


async def test_crash_between_claim_and_send_is_recovered(harness):
    await harness.post(fe.message("待办", "ou_manager", harness.clock.now()))
    await harness.bot.inbox.drain()
    from storage.queue import claim

    async with harness.bot.sessions() as session:  # a worker claims the reply, then "dies"
        claimed = await claim(
            session, OutboundMessage, harness.clock.now(), timedelta(minutes=2), 10
        )
    assert len(claimed) == 1
    await harness.bot.outbox.drain()
    assert harness.emulator.messages == []  # leased by the dead worker
    harness.clock.advance(timedelta(minutes=3))
    await harness.bot.outbox.drain()
    assert len(harness.emulator.messages) == 1


async def test_concurrent_duplicates_are_stored_once(harness):
    payload = fe.message("待办", "ou_manager", harness.clock.now())
    responses = await asyncio.gather(*(harness.post(payload) for _ in range(10)))
    assert all(r.status == 200 for r in responses)
    await harness.settle()
    assert len(harness.emulator.messages) == 1


@dataclass(frozen=True)
class Slow(CardAction):
    name: ClassVar[str] = "test.slow"


async def test_slow_card_action_answers_in_time_then_updates_the_card(harness):
    from cards.notice import build_notice_card

    async def slow(ctx, click, action):
        await asyncio.sleep(3.0)
        return {"card": {"type": "raw", "data": build_notice_card("完成", "done", "zh")}}

    harness.bot.router.action(Slow)(slow)
    await harness.say("待办", sender="ou_manager")
    card_message = harness.emulator.messages[0].message_id
    token = harness.emulator.issue_callback_token(card_message)
    started = time.perf_counter()
    answer = await harness.click(
        "ou_manager", {"a": "test.slow"}, message_id=card_message, token=token
    )
    assert time.perf_counter() - started < 3.0
    assert answer["toast"]["type"] == "info"
    await asyncio.wait(harness.bot._background, timeout=5)
    await harness.settle()
    updated = harness.emulator.find_message(card_message)
    assert [u.via for u in updated.updates] == ["card.update"]
    assert updated.card["header"]["title"]["content"] == "完成"


async def test_sends_reuse_one_pooled_http_client(harness, monkeypatch):
    """lark-oapi would build a new httpx client (and SSL context) per call; ours share one."""
    import httpx

    created = []
    real_init = httpx.AsyncClient.__init__

    def counting_init(self, *args, **kwargs):
        created.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    for sender in ("ou_manager", "ou_brand", "ou_planner", "ou_crm"):
        await harness.say("待办", sender=sender)
    assert len(harness.emulator.messages) == 4
    assert len(created) <= 1
