"""The long-connection transport: the real lark-oapi ws.Client, in its own thread, against
a local fake of Feishu's WebSocket endpoint; frames go through the same de-duplication,
routing and handlers as the webhook."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import build_app
from bot.transport.longconn import LongConnTransport
from storage.models import InboundEvent, OutboundMessage
from tests import feishu_events as fe
from tests.conftest import make_settings, sync_team
from tests.waiting import wait_until


async def wait_for(predicate, timeout: float = 10.0) -> None:
    await wait_until(predicate, timeout)


async def _all_done(bot):
    inbound, outbound = await statuses(bot)
    busy = {"pending", "processing"}
    return bool(inbound) and not busy & {*inbound, *outbound}


async def statuses(bot) -> tuple[list[str], list[str]]:
    """The inbox's and the outbox's row statuses."""
    async with bot.sessions() as s:
        inbound = (await s.exec(select(InboundEvent.status))).all()
        outbound = (await s.exec(select(OutboundMessage.status))).all()
    return list(inbound), list(outbound)


@pytest.fixture
async def longconn(db_url, emulator, clock):
    emulator.longconn.ping_interval = 1
    bot = build_app(
        make_settings(
            db_url, emulator.base_url, transport="longconn", verification_token="", encrypt_key=""
        ),
        clock=clock,
        workers=True,
    )
    bot.on_ready.append(sync_team)  # the team is there before any event is handled
    transport = bot.transport = LongConnTransport(bot, stale_after=3.0, check_every=0.5)
    async with bot:
        await wait_for(lambda: emulator.longconn.connected == 1)
        yield bot, transport
    emulator.longconn.silent = False


async def test_message_over_long_connection_is_answered_once(longconn, emulator, clock):
    bot, transport = longconn
    payload = fe.message("待办", "ou_manager", clock.now())
    emulator.register_event(payload)
    for _ in range(3):  # re-pushes of the same event
        assert await emulator.apush_longconn(payload) is None
    messages = await emulator.await_messages(1, timeout=10)
    # one event stored, handled once, one answer sent: nothing more is on its way
    await wait_until(lambda: _all_done(bot), 10)
    assert await statuses(bot) == (["done"], ["sent"])
    assert len(emulator.messages) == 1
    assert "项目进度周报" in str(messages[0].card)
    assert transport.health()["state"] == "connected"


async def test_card_callback_over_long_connection_gets_its_answer(longconn, emulator, clock):
    value = {"a": "due.refresh", "v": 1, "o": "ou_manager", "l": "en"}
    answer = await emulator.apush_longconn(fe.card_action("ou_manager", value, clock.now()))
    assert answer["toast"]["type"] == "success"
    assert answer["card"]["data"]["schema"] == "2.0"


async def test_watchdog_restarts_a_silent_connection(longconn, emulator, clock):
    bot, transport = longconn
    await wait_for(lambda: emulator.longconn.pings >= 1)  # pongs keep it alive
    emulator.longconn.silent = True  # half-open: nothing comes back any more
    await wait_for(lambda: transport.restarts >= 1, timeout=15)
    emulator.longconn.silent = False
    await wait_for(lambda: transport.state == "connected", timeout=15)
    payload = fe.message("whoami", "ou_planner", clock.now())
    emulator.register_event(payload)
    await emulator.apush_longconn(payload)
    await emulator.await_messages(1, timeout=10)


async def test_dropped_socket_reconnects(longconn, emulator, clock):
    bot, transport = longconn
    emulator.drop_longconn()
    await wait_for(lambda: emulator.longconn.connected == 1, timeout=15)
    payload = fe.message("help", "ou_planner", clock.now())
    emulator.register_event(payload)
    await emulator.apush_longconn(payload)
    await emulator.await_messages(1, timeout=10)
