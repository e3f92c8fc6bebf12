"""A local fake of Feishu's long-connection (WebSocket) endpoint, for the real lark-oapi
`ws.Client`: `POST /callback/ws/endpoint` hands out a ws:// URL, the socket carries the
SDK's protobuf frames (pbbp2.Frame): pings are answered with pongs, and `push()` sends an
event or callback as a DATA frame and returns the client's answer.

Protobuf classes come from lark-oapi itself, imported lazily (the emulator must stay cheap
for tests that never use the long connection)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:  # pragma: no cover
    from bot.devtools.emulator.server import FeishuEmulator


def _frame_cls():
    from lark_oapi.ws.pb.pbbp2_pb2 import Frame

    return Frame


def _header(frame, key: str) -> str | None:
    for h in frame.headers:
        if h.key == key:
            return h.value
    return None


class LongConnEndpoint:
    """State and routes of the fake long-connection endpoint (lives on the emulator loop)."""

    def __init__(
        self, emulator: FeishuEmulator, ping_interval: int = 120, reconnect_interval: int = 1
    ) -> None:
        self.emulator = emulator
        self.ping_interval = ping_interval
        self.reconnect_interval = reconnect_interval
        self.silent = False  # True: swallow everything (a half-open connection)
        self.refuse = 0  # refuse the next N endpoint requests (server busy)
        self.endpoint_calls = 0
        self.pings = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._waiting: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)

    # -- routes -------------------------------------------------------------------------
    def install(self, app: web.Application) -> None:
        app.router.add_post("/callback/ws/endpoint", self._endpoint)
        app.router.add_get("/callback/ws", self._socket)

    async def _endpoint(self, request: web.Request) -> web.Response:
        self.endpoint_calls += 1
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"code": 1, "msg": "bad request"}, status=400)
        if self.refuse > 0:
            self.refuse -= 1
            return web.json_response({"code": 1, "msg": "system busy"})
        emu = self.emulator
        if body.get("AppID") != emu.app_id or body.get("AppSecret") != emu.app_secret:
            return web.json_response({"code": 1000040344, "msg": "invalid app credentials"})
        host = request.host
        url = f"ws://{host}/callback/ws?device_id={secrets.token_hex(6)}&service_id=1"
        config = {
            "ReconnectCount": -1,
            "ReconnectInterval": self.reconnect_interval,
            "ReconnectNonce": 0,
            "PingInterval": self.ping_interval,
        }
        return web.json_response(
            {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}}
        )

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        Frame = _frame_cls()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY or self.silent:
                    continue
                frame = Frame()
                frame.ParseFromString(msg.data)
                kind = _header(frame, "type")
                if frame.method == 0 and kind == "ping":
                    self.pings += 1
                    pong = Frame()
                    pong.method, pong.service, pong.SeqID, pong.LogID = 0, frame.service, 0, 0
                    h = pong.headers.add()
                    h.key, h.value = "type", "pong"
                    await ws.send_bytes(pong.SerializeToString())
                elif frame.method == 1:
                    future = self._waiting.pop(_header(frame, "message_id") or "", None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(frame.payload or b"{}"))
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
        return ws

    # -- controls (call from any thread through the emulator helpers below) ---------------
    async def apush(
        self, payload: dict[str, Any], *, kind: str = "event", timeout: float = 5.0
    ) -> dict | None:
        """Send one event/callback to a connected client; return its answer (the callback
        body for cards, None for events), or raise TimeoutError."""
        sockets = [ws for ws in self._sockets if not ws.closed]
        if not sockets:
            raise ConnectionError("no long-connection client is connected")
        Frame = _frame_cls()
        message_id = f"msg_{next(self._ids)}"
        frame = Frame()
        frame.method, frame.service, frame.SeqID, frame.LogID = 1, 1, next(self._ids), 0
        for key, value in (
            ("type", kind),
            ("message_id", message_id),
            ("trace_id", secrets.token_hex(4)),
            ("sum", "1"),
            ("seq", "0"),
        ):
            h = frame.headers.add()
            h.key, h.value = key, value
        frame.payload = json.dumps(payload, ensure_ascii=False).encode()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        await sockets[-1].send_bytes(frame.SerializeToString())
        answer = await asyncio.wait_for(future, timeout)
        if answer.get("code") != 200:
            raise RuntimeError(f"client answered {answer.get('code')}")
        data = answer.get("data")
        return json.loads(base64.b64decode(data)) if data else None

    async def adrop(self) -> None:
        """Close every client socket (the client should reconnect)."""
        for ws in list(self._sockets):
            await ws.close()

    @property
    def connected(self) -> int:
        return sum(not ws.closed for ws in self._sockets)

    def reset(self) -> None:
        self.silent, self.refuse, self.endpoint_calls, self.pings = False, 0, 0, 0
