"""The loop shared by the durable workers (inbox, outbox): woken at once when work
arrives, and polling as well, so retries and rows left by a crashed process are picked up."""

from __future__ import annotations

import asyncio
import logging

from bot.clock import Clock

log = logging.getLogger("dutybot.workers")


class Worker:
    """Run `process_once` whenever woken, and at least every `poll` seconds."""

    name = "worker"

    def __init__(self, clock: Clock, poll: float = 1.0) -> None:
        self.clock = clock
        self.poll = poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def process_once(self) -> int:
        raise NotImplementedError

    async def drain(self, max_rounds: int = 100) -> int:
        """Process until nothing is due (tests, `tick`, shutdown)."""
        total = 0
        for _ in range(max_rounds):
            done = await self.process_once()
            total += done
            if not done:
                break
        return total

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                while await self.process_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s pass failed; retrying", self.name)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll)
            except TimeoutError:
                pass
            self._wake.clear()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the pass in flight (up to `timeout`), then stop."""
        self._stopping = True
        self.wake()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
            except asyncio.CancelledError:
                pass
