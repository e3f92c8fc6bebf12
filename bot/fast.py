"""Optional speed-ups (`pip install dutybot[fast]`), used when installed, never required:
uvloop runs the server's event loop, orjson parses webhook bodies. Measured in
bench/ingress.py; the behaviour is the same either way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the extra is optional
    orjson = None


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """asyncio.run on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the extra is optional
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def loads(raw: bytes) -> Any:
    """json.loads of UTF-8 bytes. orjson when installed; what it refuses (NaN, lone
    surrogates, deep nesting) goes to json, so the same bodies are accepted. (orjson reads
    integers beyond 64 bits as floats: no field the webhook checks is one, and the event is
    stored as the text received.)"""
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw.decode("utf-8"))
