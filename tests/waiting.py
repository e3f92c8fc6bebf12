"""Waiting on conditions with deadlines: tests never sleep to synchronise.

`wait_until` re-checks a condition each time the event loop has run other work, until it
holds or the deadline passes; the failure says what was awaited."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 5.0,  # noqa: ASYNC109 - a deadline, not a cancellation scope
    *,
    what: str | None = None,
) -> T:
    """Return the predicate's first truthy value; TimeoutError after `timeout` seconds.

    The predicate may be sync or async. Between checks the loop gets a turn (a 5 ms yield,
    so threads such as the emulator's run too); it is never a fixed sleep standing in for
    "long enough"."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            name = what or getattr(predicate, "__name__", "condition")
            raise TimeoutError(f"{name} did not hold within {timeout} s")
        await asyncio.sleep(0.005)
