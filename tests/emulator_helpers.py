"""Shared by the emulator's tests: a fresh emulator per test, the real SDK pointed at it,
and plain aiohttp access with a token obtained over HTTP."""

from __future__ import annotations

import itertools
import json
import time

import aiohttp
import lark_oapi as lark  # ~4 s, once per run
import pytest
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody
from lark_oapi.core.token.manager import TokenManager

from bot.devtools.emulator import FeishuEmulator

_app_ids = itertools.count()


def card(text: str = "hello", *, v2: bool = True, shared: bool = True) -> dict:
    if v2:
        return {
            "schema": "2.0",
            "config": {"update_multi": True},
            "header": {"title": {"tag": "plain_text", "content": "Duty"}},
            "body": {"elements": [{"tag": "markdown", "content": text}]},
        }
    c: dict = {"elements": [{"tag": "div", "text": {"tag": "plain_text", "content": text}}]}
    if shared:
        c["config"] = {"update_multi": True}
    return c


def text(s: str) -> str:
    return json.dumps({"text": s})


@pytest.fixture
def emu():
    """A fresh emulator per test with its own app_id (the SDK token cache is process-global)."""
    app_id = f"cli_emu_{next(_app_ids)}_{time.monotonic_ns()}"
    e = FeishuEmulator(app_id=app_id, card_validator=None)
    e.start()
    yield e
    e.stop()
    TokenManager.cache.cache.pop(f"self_tenant_token:{app_id}", None)


def sdk(emu: FeishuEmulator) -> lark.Client:
    return (
        lark.Client.builder()
        .app_id(emu.app_id)
        .app_secret(emu.app_secret)
        .domain(emu.base_url)
        .timeout(5)
        .log_level(lark.LogLevel.CRITICAL)
        .build()
    )


def create_req(receive_id: str, msg_type: str, content: str, *, rit="open_id", uuid=None):
    body = CreateMessageRequestBody.builder().receive_id(receive_id).msg_type(msg_type)
    body = body.content(content)
    if uuid is not None:
        body = body.uuid(uuid)
    return CreateMessageRequest.builder().receive_id_type(rit).request_body(body.build()).build()


class Raw:
    """Plain aiohttp access with a token obtained over HTTP."""

    def __init__(self, emu: FeishuEmulator, session: aiohttp.ClientSession) -> None:
        self.emu, self.s, self.token = emu, session, None

    async def get_token(self) -> str:
        status, _, body = await self.call(
            "POST",
            "/open-apis/auth/v3/tenant_access_token/internal",
            json_body={"app_id": self.emu.app_id, "app_secret": self.emu.app_secret},
            auth=False,
        )
        assert status == 200, body
        self.token = body["tenant_access_token"]
        return self.token

    async def call(self, method, path, *, json_body=None, params=None, auth=True, data=None):
        headers = {}
        if auth:
            if self.token is None:
                await self.get_token()
            headers["Authorization"] = f"Bearer {self.token}"
        async with self.s.request(
            method,
            self.emu.base_url + path,
            json=json_body,
            data=data,
            params=params,
            headers=headers,
        ) as r:
            raw = await r.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
            return r.status, r.headers, body

    async def send(self, receive_id, content=None, *, msg_type="text", rit="open_id", uuid=None):
        payload = {"receive_id": receive_id, "msg_type": msg_type, "content": content or text("x")}
        if uuid is not None:
            payload["uuid"] = uuid
        return await self.call(
            "POST", "/open-apis/im/v1/messages", json_body=payload, params={"receive_id_type": rit}
        )

    async def patch(self, message_id, new_card):
        return await self.call(
            "PATCH",
            f"/open-apis/im/v1/messages/{message_id}",
            json_body={"content": json.dumps(new_card)},
        )


@pytest.fixture
async def raw(emu):
    async with aiohttp.ClientSession() as session:
        yield Raw(emu, session)
