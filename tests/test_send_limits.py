"""Our side of Feishu's rate limits: a call holds its place until its answer is in (Feishu
counts arrivals), and an answer someone waits for is not held up by a fan-out that has
spent the minute's budget (bench/fanout.py --probe measures both at scale)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.feishu.limits import IN_FLIGHT_RECHECK, SendLimits, SlidingWindow, urgent
from storage.outbox import enqueue
from tests import feishu_events as fe


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_call_counts_until_its_answer_is_in():
    now = FakeTime()
    window = SlidingWindow(2, 1.0, now)
    window.take()
    window.take()
    assert window.wait_time() == IN_FLIGHT_RECHECK  # both still on their way
    now.t += 0.3
    window.end()  # the first answer is in: its place frees a whole window later
    assert window.wait_time() == pytest.approx(1.0)
    now.t += 1.0
    assert window.wait_time() == 0.0
    window.take()
    assert window.wait_time() == IN_FLIGHT_RECHECK


async def test_an_answer_goes_when_bulk_sends_have_spent_the_minute():
    now = FakeTime()
    limits = SendLimits(per_second=50, per_minute=100, clock=now)
    sent = 0
    while True:  # bulk sends, 20 a second, until the limiter holds one back
        try:
            slot = await asyncio.wait_for(limits.acquire(f"ou_{sent}"), 0.2)
        except TimeoutError:
            break
        slot.release()
        sent += 1
        now.t += 0.05
    assert 80 <= sent < 100  # bulk leaves headroom under the minute's limit
    with urgent():
        slot = await asyncio.wait_for(limits.acquire("ou_asker"), 1.0)
    slot.release()
    # many answers lately: bulk leaves the next minute room for as many
    for i in range(5):  # (92 bulk + 6 answers: the answers' own limit is 102)
        with urgent():
            (await asyncio.wait_for(limits.acquire(f"ou_asker{i}"), 1.0)).release()
        now.t += 0.5
    assert limits._bulk_share() < sent  # noqa: SLF001


async def test_a_fan_out_that_spent_the_minute_does_not_delay_an_answer(harness):
    """Reminders to 150 people with a 100/min budget: the bulk sends stop near 92, the
    rest wait most of a minute for places to free. Someone asks "待办" meanwhile: the
    answer goes out at once, not after the pass (or the minute), and Feishu answers no 429."""
    emu = harness.emulator
    emu.app_per_minute = 102
    harness.bot.gateway.limits = SendLimits(per_second=20, per_minute=100)
    async with harness.bot.sessions() as session:
        for i in range(150):
            await enqueue(
                session,
                uuid=f"fan-{i}",
                now=harness.clock.now(),
                kind="send",
                body=f"提醒 {i}",
                msg_type="text",
                receive_id_type="open_id",
                receive_id=f"ou_fan{i:03d}",
                purpose="reminder",
            )
        await session.commit()
    harness.bot.start_workers()
    deadline = time.monotonic() + 30
    while len(emu.messages) < 85:  # the bulk has spent (nearly) the minute
        assert time.monotonic() < deadline, len(emu.messages)
        await asyncio.sleep(0.05)
    started = time.perf_counter()
    await harness.post(fe.message("待办", "ou_manager", harness.clock.now()))
    deadline = time.monotonic() + 10
    while not emu.messages_to("oc_p2p_ou_manager"):
        assert time.monotonic() < deadline, "the answer waited behind the fan-out"
        await asyncio.sleep(0.05)
    assert time.perf_counter() - started < 3.0
    assert len([m for m in emu.messages if m.uuid and m.uuid.startswith("fan-")]) < 100
    assert emu.stats["http_429"] == 0
    await harness.bot.outbox.stop(timeout=0.1)  # the rest would wait for the minute
