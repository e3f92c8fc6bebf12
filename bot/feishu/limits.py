"""Sliding-window rate limits matching Feishu's documented windows exactly.

A token bucket with burst C and rate r can pass C + r·W calls in a window W, which is how
"per-chat then per-app" buckets still earn 429s. A sliding window log never lets more than
`limit` calls start within any `window` seconds, so sends stay under the documented
1000/min, 50/s and 5/s-per-receiver limits by construction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger("dutybot.feishu")

BucketSpec = tuple[str, float, int]
"""(key, seconds between calls, calls allowed back to back): a GCRA bucket."""
SharedReserve = Callable[[Sequence[BucketSpec]], Awaitable[float]]


class SlidingWindow:
    """At most `limit` acquisitions per key in any `window` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._log: dict[str, deque[float]] = {}

    def _wait_time(self, key: str) -> float:
        log = self._log.setdefault(key, deque())
        now = self._clock()
        while log and log[0] <= now - self.window:
            log.popleft()
        if len(log) < self.limit:
            return 0.0
        return log[0] + self.window - now

    def try_acquire(self, key: str = "") -> float:
        """Take a slot and return 0, or return how long to wait before one frees."""
        wait = self._wait_time(key)
        if wait <= 0:
            self._log[key].append(self._clock())
        return wait

    async def acquire(self, key: str = "") -> None:
        while (wait := self.try_acquire(key)) > 0:  # noqa: ASYNC110 - waiting for time, not for an event
            await asyncio.sleep(wait)

    def forget_idle(self) -> None:
        """Drop keys with no calls inside the window (keeps memory flat across many receivers)."""
        now = self._clock()
        for key in [k for k, log in self._log.items() if not log or log[-1] <= now - self.window]:
            del self._log[key]


class SendLimits:
    """Feishu's message limits: per app 50/s and 1000/min, per receiver (user or chat) 5/s,
    per message PATCH 5/s. The app defaults keep headroom: our window counts a call when it
    starts, Feishu when it arrives, and arrivals bunch within a second (bench/fanout.py with
    the pooled client: 156 × 429 in 10,000 sends at 48/s, none at 40/s and 975/min, 1.084 ×
    the physical floor, which the 1000/min window sets)."""

    MINUTE_BURST = 20  # 975/min + 20 back to back stays under 1000 in any minute

    def __init__(
        self,
        per_second: int = 40,
        per_minute: int = 975,
        per_receiver: int = 5,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedReserve | None = None,
    ) -> None:
        self.per_second, self.per_minute, self.per_receiver = per_second, per_minute, per_receiver
        self.app_second = SlidingWindow(per_second, 1.0, clock)
        self.app_minute = SlidingWindow(per_minute, 60.0, clock)
        self.receiver = SlidingWindow(per_receiver, 1.0, clock)
        self._lock = asyncio.Lock()
        # Replicas on PostgreSQL share the limits through the database (storage.rate_limits,
        # wired by the app); without it the windows above are this process's alone.
        self.shared = shared
        self.stats = {"shared_waits": 0, "shared_errors": 0}

    def buckets(self, receiver: str | None) -> list[BucketSpec]:
        """The shared buckets of one call. Evenly spaced calls (a window counts arrivals,
        which bunch: spacing leaves room): the app's per-second rate, its per-minute rate
        with a short burst, and the receiver at half a call per second under its limit."""
        specs: list[BucketSpec] = [
            ("app:second", 1.0 / self.per_second, 1),
            ("app:minute", 60.0 / self.per_minute, self.MINUTE_BURST),
        ]
        if receiver:
            specs.append((f"receiver:{receiver}"[:120], 1.0 / (self.per_receiver - 0.5), 1))
        return specs

    async def acquire(self, receiver: str | None) -> None:
        """Wait until one more call is allowed for this receiver and the app."""
        if self.shared is not None:
            try:
                wait = await self.shared(self.buckets(receiver))
            except Exception as exc:  # noqa: BLE001 - the database is down: limit locally
                self.stats["shared_errors"] += 1
                log.warning("shared rate limits unavailable (%s): limiting locally", exc)
            else:
                if wait > 0:
                    self.stats["shared_waits"] += 1
                    await asyncio.sleep(wait)
                return
        if receiver:
            await self.receiver.acquire(receiver)
        async with self._lock:  # take both app windows together so neither is over-spent
            while True:
                wait = max(self.app_second._wait_time(""), self.app_minute._wait_time(""))
                if wait <= 0:
                    self.app_second.try_acquire("")
                    self.app_minute.try_acquire("")
                    return
                await asyncio.sleep(wait)
