"""The outbox worker gives way to inline answers: while a card callback is being answered
on the event loop (Feishu's 3 s budget), a pass waits for it to finish, at most
YIELD_MAX, then sends as before."""

from __future__ import annotations

import asyncio

from bot.delivery import outbox as outbox_worker
from storage.outbox import enqueue


async def queue_text(harness, uuid: str) -> None:
    async with harness.bot.sessions() as session:
        await enqueue(
            session,
            uuid=uuid,
            now=harness.clock.now(),
            kind="send",
            body={"text": "hi"},
            msg_type="text",
            receive_id_type="open_id",
            receive_id="ou_manager",
        )
        await session.commit()


def sent_to_manager(harness) -> int:
    return len(harness.emulator.messages_to("ou_manager"))


async def test_a_pass_waits_for_the_answers_being_given(harness):
    await queue_text(harness, "yield-1")
    before = sent_to_manager(harness)
    answering = harness.bot.answering
    with answering:
        assert answering.running == 1
        passing = asyncio.ensure_future(harness.bot.outbox.process_once())
        for _ in range(50):  # the loop runs other work meanwhile; the pass does not start
            await asyncio.sleep(0)
        assert not passing.done() and sent_to_manager(harness) == before
    assert answering.running == 0
    assert await asyncio.wait_for(passing, 10) == 1
    assert sent_to_manager(harness) == before + 1


async def test_a_pass_waits_at_most_yield_max(harness, monkeypatch):
    monkeypatch.setattr(outbox_worker, "YIELD_MAX", 0.05)
    await queue_text(harness, "yield-2")
    before = sent_to_manager(harness)
    with harness.bot.answering:  # an answer that never ends: the outbox still sends
        assert await asyncio.wait_for(harness.bot.outbox.process_once(), 10) == 1
        assert sent_to_manager(harness) == before + 1
