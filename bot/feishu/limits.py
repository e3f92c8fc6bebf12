"""Sliding-window rate limits matching Feishu's documented windows exactly.

A token bucket with burst C and rate r can pass C + r·W calls in a window W, which is how
"per-chat then per-app" buckets still earn 429s. A sliding window never lets more than
`limit` calls into any `window` seconds, so sends stay under the documented 1000/min,
50/s and 5/s-per-receiver limits by construction.

Feishu counts a call when it *arrives*, some time between our start and the answer, and
arrivals bunch. So a call holds its place in the window from its start until `window`
seconds after it *ended* (while in flight it counts as now): any `window` seconds of
arrivals then hold at most `limit` places at once (bench/fanout.py: counted at the start,
40/s still let 51 arrive within one second).

Answers to people (the outbox's priority-0 rows, marked by `urgent()`) may use a little
headroom above the app rates that bulk sends (reminders, digests) cannot: a fan-out that
has spent the minute's budget does not make the next answer wait for the minute to turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Protocol

log = logging.getLogger("dutybot.feishu")

BucketSpec = tuple[str, float, int]
"""(key, window seconds, calls allowed in any window): a sliding window all replicas share."""


class SharedPlaces(Protocol):
    """Places taken in the shared windows (storage.rate_limits.Reservation)."""

    wait: float  # seconds until the call may start

    async def release(self, *others: SharedPlaces) -> None: ...


SharedReserve = Callable[[Sequence[BucketSpec], int], Awaitable[list[SharedPlaces]]]
"""Places for this many calls in these windows (storage.rate_limits.reserve)."""
_releasing: set[asyncio.Task] = set()  # shared places being released (kept referenced)

IN_FLIGHT_RECHECK = 0.02  # a window full of calls still in flight: look again this soon
_URGENT: ContextVar[bool] = ContextVar("dutybot_urgent_call", default=False)


@contextlib.contextmanager
def urgent(on: bool = True) -> Iterator[None]:
    """Calls made inside (in this task) are answers someone waits for: they may use the
    headroom that bulk sends leave."""
    token = _URGENT.set(on)
    try:
        yield
    finally:
        _URGENT.reset(token)


class _Log:
    __slots__ = ("ended", "in_flight")

    def __init__(self) -> None:
        self.in_flight = 0
        self.ended: deque[float] = deque()  # end times, in order (calls end as time goes)


class SlidingWindow:
    """At most `limit` calls per key in any `window` seconds, each counted from its start
    until `window` after its end."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._log: dict[str, _Log] = {}

    def wait_time(self, key: str = "", limit: int | None = None) -> float:
        """0 if one more call may start now (under `limit`, default the window's), else
        how long until a place may free."""
        entry = self._log.get(key)
        if entry is None:
            return 0.0
        now = self._clock()
        ended = entry.ended
        while ended and ended[0] <= now - self.window:
            ended.popleft()
        if entry.in_flight + len(ended) < (self.limit if limit is None else limit):
            return 0.0
        return ended[0] + self.window - now if ended else IN_FLIGHT_RECHECK

    def take(self, key: str = "") -> None:
        """A call starts (check `wait_time` first)."""
        entry = self._log.get(key)
        if entry is None:
            entry = self._log[key] = _Log()
        entry.in_flight += 1

    def end(self, key: str = "") -> None:
        """A call that `take` started has its answer (or failed)."""
        entry = self._log.get(key)
        if entry is None:
            entry = self._log[key] = _Log()
        entry.in_flight = max(0, entry.in_flight - 1)
        entry.ended.append(self._clock())

    async def acquire(self, key: str = "") -> None:
        while (wait := self.wait_time(key)) > 0:  # noqa: ASYNC110 - waiting for time
            await asyncio.sleep(wait)
        self.take(key)

    def forget_idle(self) -> None:
        """Drop keys with no calls inside the window (keeps memory flat across many receivers)."""
        now = self._clock()
        for key in [
            k
            for k, e in self._log.items()
            if not e.in_flight and (not e.ended or e.ended[-1] <= now - self.window)
        ]:
            del self._log[key]


class Slot:
    """One call's places in its windows; `release()` when its answer is in."""

    __slots__ = ("_places", "_shared")

    def __init__(
        self, places: list[tuple[SlidingWindow, str]], shared: Sequence[SharedPlaces] = ()
    ) -> None:
        self._places, self._shared = places, list(shared)

    def release(self) -> None:
        places, self._places = self._places, []
        for window, key in places:
            window.end(key)
        shared, self._shared = self._shared, []
        if shared:  # one more round trip: not on the caller's time
            task = asyncio.create_task(shared[0].release(*shared[1:]))
            _releasing.add(task)
            task.add_done_callback(_released)


def _released(task: asyncio.Task) -> None:
    _releasing.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        # the places keep their longer hold (storage.rate_limits.IN_FLIGHT): safe
        log.warning("shared rate limits: release failed (%s)", exc)


class SendLimits:
    """Feishu's message limits: per app 50/s and 1000/min, per receiver (user or chat) 5/s,
    per message PATCH 5/s.

    Bulk sends (reminders, digests) keep to `per_second` and `per_minute`. Answers
    someone waits for (`urgent()`) go first: bulk calls wait while an answer waits, answers
    may use headroom above the bulk rates (1/5 of a second's, 1/50 of a minute's: 48/s and
    994/min by default, under Feishu's 50 and 1000), and bulk leaves in each minute the
    places the answers of the last `ANSWER_SPAN` seconds say the next minute will need. A
    fan-out that took a whole minute's budget in its first 25 s would otherwise make every
    answer of the next 35 s wait for the minute to turn (bench/fanout.py --probe)."""

    ANSWER_SPAN = 10.0  # seconds of answers the expected rate is taken from

    def __init__(
        self,
        per_second: int = 40,
        per_minute: int = 975,
        per_receiver: int = 5,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedReserve | None = None,
    ) -> None:
        self.per_second, self.per_minute, self.per_receiver = per_second, per_minute, per_receiver
        self.urgent_second = per_second + per_second // 5
        self.urgent_minute = per_minute + per_minute // 50
        self._clock = clock
        self.app_second = SlidingWindow(self.urgent_second, 1.0, clock)
        self.app_minute = SlidingWindow(self.urgent_minute, 60.0, clock)
        self.bulk_minute = SlidingWindow(per_minute, 60.0, clock)  # bulk calls alone
        self.receiver = SlidingWindow(per_receiver, 1.0, clock)
        self._bulk = asyncio.Lock()  # bulk calls wait their turn in order; answers do not
        self._urgent_waiting = 0  # answers waiting for a place: bulk calls let them go first
        self._answers: deque[float] = deque()  # start times of recent answers
        # Replicas on PostgreSQL share the limits through the database (storage.rate_limits,
        # wired by the app); without it the windows above are this process's alone.
        self.shared = shared
        self.stats = {"shared_waits": 0, "shared_errors": 0, "urgent_waits": 0}

    def buckets(self, urgent: bool = False) -> list[BucketSpec]:
        """The app's shared windows of one call: its second and minute up to the answers'
        limits, and for a bulk call also its own at the bulk limits."""
        specs: list[BucketSpec] = [
            ("app:second", 1.0, self.urgent_second),
            ("app:minute", 60.0, self.urgent_minute),
        ]
        if not urgent:
            specs += [("bulk:second", 1.0, self.per_second), ("bulk:minute", 60.0, self.per_minute)]
        return specs

    async def _shared_acquire(self, receiver: str | None, is_urgent: bool) -> Slot:
        """Places in the windows every replica shares, the app's and the receiver's, in one
        round trip (storage.rate_limits.reserve), then wait until they all free. One call
        at a time, when it is ready to go: places taken ahead (blocks of 8) were held from
        their start while the calls made their way, and a second round trip for the
        receiver's place lengthened every call's hold on the second's ring, which is what
        binds a fan-out (docs/benchmarks.md, session 5)."""
        assert self.shared is not None
        specs = self.buckets(urgent=is_urgent)
        if receiver:
            specs.append((f"receiver:{receiver}"[:100], 1.0, self.per_receiver))
        (places,) = await self.shared(specs, 1)
        try:
            if places.wait > 0:
                self.stats["shared_waits"] += 1
                await asyncio.sleep(places.wait)
        except BaseException:
            Slot([], [places]).release()
            raise
        return Slot([], [places])

    async def acquire(self, receiver: str | None) -> Slot:
        """Wait until one more call is allowed for this receiver and the app; release the
        slot returned when the call's answer is in."""
        is_urgent = _URGENT.get()
        if self.shared is not None:
            try:
                return await self._shared_acquire(receiver, is_urgent)
            except Exception as exc:  # noqa: BLE001 - the database is down: limit locally
                self.stats["shared_errors"] += 1
                log.warning("shared rate limits unavailable (%s): limiting locally", exc)
        while True:
            if receiver:  # the receiver first, then the app, then take every place at once
                while (wait := self.receiver.wait_time(receiver)) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(wait)
            if not is_urgent:
                await self._bulk.acquire()
            try:
                await (self._answer_open() if is_urgent else self._bulk_open())
                if receiver and self.receiver.wait_time(receiver) > 0:
                    continue  # another call took the receiver's last place meanwhile
                places = [(self.app_second, ""), (self.app_minute, "")]
                if is_urgent:
                    self._answers.append(self._clock())
                else:
                    places.append((self.bulk_minute, ""))
                if receiver:
                    places.append((self.receiver, receiver))
                for window, key in places:
                    window.take(key)
                return Slot(places)
            finally:
                if not is_urgent:
                    self._bulk.release()

    async def _answer_open(self) -> None:
        """Wait until both app windows have a place, up to the answers' limits."""
        while True:
            wait = max(
                self.app_second.wait_time("", self.urgent_second),
                self.app_minute.wait_time("", self.urgent_minute),
            )
            if wait <= 0:
                return
            self.stats["urgent_waits"] += 1
            self._urgent_waiting += 1
            try:
                await asyncio.sleep(wait)
            finally:
                self._urgent_waiting -= 1

    async def _bulk_open(self) -> None:
        """Wait until the app windows have a place for a bulk call, no answer is waiting,
        and bulk calls in the last minute leave room for the answers to come."""
        while True:
            wait = max(
                self.app_second.wait_time("", self.per_second),
                self.app_minute.wait_time("", self.per_minute),
                self.bulk_minute.wait_time("", self._bulk_share()),
            )
            if self._urgent_waiting:
                wait = max(wait, IN_FLIGHT_RECHECK)  # a freed place goes to the answer first
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def _bulk_share(self) -> int:
        """How many bulk calls a minute may hold: the answers' limit less what the recent
        answer rate will need in the next minute (never under half the bulk rate)."""
        now, answers = self._clock(), self._answers
        while answers and answers[0] <= now - self.ANSWER_SPAN:
            answers.popleft()
        expected = -(-len(answers) * 60 // int(self.ANSWER_SPAN))
        return max(self.per_minute // 2, min(self.per_minute, self.urgent_minute - expected - 10))
