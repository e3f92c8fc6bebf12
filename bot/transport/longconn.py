"""The long-connection transport (`DUTYBOT_TRANSPORT=longconn`): lark-oapi's `ws.Client`
in its own thread and event loop, bridged to the bot's loop.

Why a thread: `ws.Client.start()` blocks forever and drives a module-level event loop
captured when `lark_oapi.ws.client` is imported (facts §1.10). We give each client a fresh
loop in a dedicated thread and point that module global at it before starting.

Why not the SDK's EventDispatcherHandler: the client hands every DATA frame's raw bytes to
`event_handler._do_without_validation(payload)` and sends back what it returns. Our bridge
implements exactly that method (pinned lark-oapi 1.7.5), so frames reach `BotApp` as the
same JSON the webhook decrypts and go through the same de-duplication, routing and
handlers. Frames are plaintext inside the authenticated channel (no token or signature).

A watchdog restarts the client when nothing (not even a pong) has arrived for
`stale_after` seconds, or when the client thread died.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from bot.app import BotApp

log = logging.getLogger("dutybot.longconn")

HANDLER_BUDGET = 2.8  # seconds; Feishu re-pushes events not answered within 3 s


class _Bridge:
    """Duck-types the one method of EventDispatcherHandler that ws.Client calls."""

    def __init__(self, transport: LongConnTransport) -> None:
        self._transport = transport

    def _do_without_validation(self, payload: bytes):
        return self._transport.handle_frame(payload)


class LongConnTransport:
    def __init__(
        self, bot: BotApp, *, stale_after: float = 400.0, check_every: float = 15.0
    ) -> None:
        self.bot = bot
        self.stale_after = stale_after
        self.check_every = check_every
        self.state = "stopped"  # connecting | connected | reconnecting | failed | stopped
        self.last_activity = 0.0  # time.monotonic() of the last frame (data or pong)
        self.restarts = 0
        self.frames = 0
        self._main: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ws_loop: asyncio.AbstractEventLoop | None = None
        self._client = None
        self._watchdog: asyncio.Task | None = None
        self._generation = 0

    # -- life cycle (bot loop) ----------------------------------------------------------
    def start(self) -> None:
        self._main = asyncio.get_running_loop()
        self._spawn()
        self._watchdog = asyncio.create_task(self._watch(), name="longconn-watchdog")

    async def stop(self) -> None:
        if self._watchdog:
            self._watchdog.cancel()
        self._halt()
        self.state = "stopped"

    def health(self) -> dict:
        age = time.monotonic() - self.last_activity if self.last_activity else None
        return {
            "transport": "longconn",
            "state": self.state,
            "seconds_since_last_frame": round(age, 1) if age is not None else None,
            "restarts": self.restarts,
        }

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)
            thread_dead = self._thread is None or not self._thread.is_alive()
            silent = time.monotonic() - self.last_activity > self.stale_after
            if thread_dead or silent:
                log.warning(
                    "long connection %s; restarting the client",
                    "thread ended" if thread_dead else f"silent for {self.stale_after:.0f}s",
                )
                self.restart()

    def restart(self) -> None:
        """Abandon the current client and start a fresh one."""
        self._halt()
        self.restarts += 1
        self._spawn()

    def _halt(self) -> None:
        self._generation += 1
        loop, self._ws_loop = self._ws_loop, None
        client, self._client = self._client, None
        if loop is not None and not loop.is_closed():
            if client is not None:  # close the socket politely so the server sees it go
                try:
                    asyncio.run_coroutine_threadsafe(client._disconnect(), loop).result(1)
                except Exception:  # noqa: BLE001 - best effort; the loop is stopped next anyway
                    pass
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=2)  # a thread stuck in the SDK's blocking HTTP is left behind

    def _spawn(self) -> None:
        self.state = "connecting"
        self.last_activity = time.monotonic()
        generation = self._generation
        self._thread = threading.Thread(
            target=self._run, args=(generation,), name="feishu-longconn", daemon=True
        )
        self._thread.start()

    # -- the client thread --------------------------------------------------------------
    def _run(self, generation: int) -> None:
        import lark_oapi as lark
        import lark_oapi.ws.client as ws_client

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        ws_client.loop = loop  # the SDK drives this module global (see module docstring)
        self._ws_loop = loop
        settings = self.bot.settings
        client = lark.ws.Client(
            settings.app_id,
            settings.app_secret,
            event_handler=_Bridge(self),
            domain=settings.domain,
            auto_reconnect=True,
            log_level=lark.LogLevel.WARNING,
        )
        original = client._handle_message

        async def observed(message: bytes) -> None:
            self.last_activity = time.monotonic()
            if self.state != "connected":
                self.state = "connected"
            await original(message)

        client._handle_message = observed  # every frame, pongs included, proves liveness
        client.on_reconnecting = lambda: setattr(self, "state", "reconnecting")
        client.on_reconnected = lambda: setattr(self, "state", "connected")
        self._client = client
        try:
            client.start()
        except RuntimeError:
            pass  # our _halt() stopped the loop
        except Exception as exc:  # bad credentials, connection limit, …
            if generation == self._generation:
                self.state = "failed"
            log.error("long connection client stopped: %s", exc)
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    def handle_frame(self, payload: bytes):
        """Called by the SDK on its thread: hand the frame to the bot loop and wait for the
        answer (the callback body for card clicks, None for events)."""
        self.frames += 1
        self.last_activity = time.monotonic()
        if self.state != "connected":
            self.state = "connected"
        assert self._main is not None
        future = asyncio.run_coroutine_threadsafe(self.bot.handle_plain(payload), self._main)
        try:
            return future.result(timeout=HANDLER_BUDGET)
        except FutureTimeout:
            # Events are already stored when this happens; a callback answers nothing and
            # the bot finishes it with the delayed update.
            log.warning("long-connection frame took more than %.1fs", HANDLER_BUDGET)
            return None
