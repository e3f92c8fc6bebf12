"""One pooled httpx client per event loop for lark-oapi's async calls.

lark-oapi 1.7.5's `Transport.aexecute` does `async with httpx.AsyncClient() as client:` for
every API call. Each new client builds an SSL context (~50 ms of CPU, on the event loop) and
a new connection, which stalls the bot (webhook answers included) during a fan-out and caps
a process at 15-25 sends/s. We hand that code a stand-in for the `httpx` module whose
`AsyncClient()` returns the loop's shared, pooled client and does not close it; everything
else is the real httpx. Installed once, by the gateway (bench/fanout.py measured it).

httpcore also runs `import sniffio` for every request (to tell asyncio from trio). Without
sniffio installed that import fails each time, and a failed import searches every entry of
`sys.path` again: over a third of the event loop's busy time during 50 concurrent clicks
(bench/clicks.py). `install` records the module as absent once (`sys.modules["sniffio"] =
None`), so the import fails at once and httpcore takes asyncio, as it did before.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import weakref
from types import ModuleType
from typing import Any

import httpx

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def shared_client() -> httpx.AsyncClient:
    """The running loop's pooled client (created on first use)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
        )
        _clients[loop] = client
    return client


async def close_shared_client() -> None:
    """Close the running loop's client (the gateway calls this on shutdown)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


class _Borrowed:
    """`async with httpx.AsyncClient() as c:` hands out the shared client, keeps it open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def __aenter__(self) -> httpx.AsyncClient:
        return shared_client()

    async def __aexit__(self, *exc: object) -> None:
        return None


class _HttpxForLark(ModuleType):
    def __init__(self) -> None:
        super().__init__("httpx")
        self.AsyncClient = _Borrowed

    def __getattr__(self, name: str) -> Any:
        return getattr(httpx, name)


def install() -> None:
    """Point lark-oapi's transport module at the pooled stand-in (idempotent)."""
    import lark_oapi.core.http.transport as transport

    if not isinstance(transport.httpx, _HttpxForLark):
        transport.httpx = _HttpxForLark()
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # absent: fail fast
