"""One dispatch path: a click is answered inline once and never queued again; typed card
actions keep the wire format of cards already in people's chats; one handler per action."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from sqlmodel import select

from bot.dispatch.router import DuplicateHandler, Router
from cards.actions import ALL, Approve, MarkDone, OpenReport, RefreshDue, SubmitReport
from storage.models import InboundEvent


async def test_a_click_is_handled_once_and_stored_as_done(harness, caplog):
    caplog.set_level(logging.INFO)
    await harness.say("待办", sender="ou_manager")
    answer = await harness.click("ou_manager", RefreshDue("ou_manager", "zh").pack())
    assert answer["toast"]["type"] == "success"  # answered inline
    async with harness.bot.sessions() as s:
        rows = (
            await s.exec(
                select(InboundEvent).where(InboundEvent.event_type == "card.action.trigger")
            )
        ).all()
    assert [r.status for r in rows] == ["done"]  # nothing left for the inbox worker
    assert await harness.bot.inbox.drain() == 0
    assert "no handler" not in caplog.text
    assert caplog.text.count("card.action.trigger") == 0  # the worker never saw it


async def test_a_repeated_click_delivery_is_answered_once(harness):
    from tests import feishu_events as fe

    payload = fe.card_action(
        "ou_manager", RefreshDue("ou_manager", "en").pack(), harness.clock.now()
    )
    first = await (await harness.post(payload)).json()
    again = await (await harness.post(payload)).json()
    assert first["toast"]["type"] == "success"
    assert again == {}  # de-duplicated by event_id: no second handling


def test_actions_keep_the_wire_format_of_cards_already_sent():
    assert MarkDone(7).pack() == {"a": "task.done", "v": 1, "t": 7}
    assert OpenReport(3, "en", "rabc").pack() == {
        "a": "report.open",
        "v": 1,
        "t": 3,
        "l": "en",
        "c": "rabc",
    }
    assert Approve.unpack({"a": "report.approve", "v": 1, "r": "12", "ver": 2, "l": "en"}) == (
        Approve(12, 2, "en")
    )
    # an old form without the version it creates still submits
    old = SubmitReport.unpack({"a": "report.submit", "v": 1, "t": 1, "l": "zh", "c": "rabc"})
    assert old == SubmitReport(1, "zh", "rabc", (), 0)
    for cls in ALL:  # every action survives its own round trip
        fields = {
            f: (1 if t == "int" else "x" if t == "str" else "en" if t == "lang" else ("k",))
            for f, t in ((f.name, f.metadata["kind"]) for f in dataclasses.fields(cls))
        }
        action = cls(**fields)
        assert cls.unpack(action.pack()) == action


def test_tampered_values_do_not_unpack():
    from cards.actions import BadAction

    for value in ({"a": "task.done", "v": 1}, {"a": "task.done", "t": True}, {"t": "1; drop"}):
        with pytest.raises(BadAction):
            MarkDone.unpack(value)


def test_an_action_registered_twice_raises():
    router = Router(name="a")

    @router.action(MarkDone)
    async def one(ctx, click, action):
        return {}

    with pytest.raises(DuplicateHandler):

        @router.action(MarkDone)
        async def two(ctx, click, action):
            return {}

    other = Router(name="b")
    other.action(MarkDone)(one)
    with pytest.raises(DuplicateHandler):
        Router(name="root").include(router, other)


async def test_click_slots_handle_a_few_clicks_at_once(harness):
    """On SQLite at most SQLITE_CLICK_SLOTS clicks are handled at once, the rest in arrival
    order (bot.dispatch.dispatcher.Dispatcher); every one is handled."""
    import asyncio

    from bot.app import SQLITE_CLICK_SLOTS
    from bot.dispatch.dispatcher import Dispatcher

    assert harness.bot.dispatcher._click_slots._value == SQLITE_CLICK_SLOTS
    dispatcher = Dispatcher(
        Router(name="t"), harness.bot.services, harness.bot.sessions, None, None, 2
    )
    running, peak, order = 0, 0, []

    async def handle(event, handler, action, source):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        order.append(source)
        return {"source": source}

    dispatcher._handle_click = handle
    answers = await asyncio.gather(
        *(dispatcher.handle_click(None, None, None, f"c{i}") for i in range(6))
    )
    assert peak == 2 and [a["source"] for a in answers] == [f"c{i}" for i in range(6)]
    assert order == [f"c{i}" for i in range(6)]
