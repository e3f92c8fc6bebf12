"""The local Feishu emulator, driven by the real lark-oapi SDK and by plain aiohttp."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time

import aiohttp
import lark_oapi as lark  # ~4 s, once per module
import pytest
from lark_oapi.api.contact.v3 import GetUserRequest
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token.manager import TokenManager

from bot.devtools.emulator import API_NAMES, FeishuEmulator

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


# --------------------------------------------------------------------------- SDK


async def test_sdk_send_fetches_token_with_blocking_requests_and_stores(emu):
    client = sdk(emu)
    resp = await client.im.v1.message.acreate(create_req("ou_alice", "text", text("hi")))
    assert resp.success(), (resp.code, resp.msg)
    assert resp.data.message_id.startswith("om_")
    assert resp.data.msg_type == "text"
    assert resp.data.chat_id.startswith("oc_")
    assert json.loads(resp.data.body.content) == {"text": "hi"}
    # httpx lower-cases header names, so the SDK's get_log_id() ("X-Tt-Logid") is None on async
    assert resp.raw.headers.get("x-tt-logid", "").startswith("emu")

    token_reqs = emu.requests_for("auth.tenant_token")
    assert len(token_reqs) == 1
    assert token_reqs[0]["json"]["app_id"] == emu.app_id
    token = emu.requests_for("im.message.create")[0]["headers"]["authorization"]
    assert token.startswith("Bearer t-")

    (msg,) = emu.messages
    assert msg.message_id == resp.data.message_id
    assert msg.receive_id == "ou_alice" and msg.receive_id_type == "open_id"
    assert msg.text == "hi"
    assert emu.find_message(msg.message_id).content == {"text": "hi"}
    assert emu.find_message("om_nope") is None
    # the second call reuses the SDK's cached token
    assert (await client.im.v1.message.acreate(create_req("ou_alice", "text", text("2")))).success()
    assert len(emu.requests_for("auth.tenant_token")) == 1


async def test_sdk_reply_records_parent_and_thread(emu):
    client = sdk(emu)
    first = await client.im.v1.message.acreate(
        create_req("oc_team", "text", text("q"), rit="chat_id")
    )
    assert first.success()
    parent_id = first.data.message_id
    body = (
        ReplyMessageRequestBody.builder()
        .msg_type("interactive")
        .content(json.dumps(card("answer")))
        .reply_in_thread(True)
        .uuid("reply-1")
        .build()
    )
    req = ReplyMessageRequest.builder().message_id(parent_id).request_body(body).build()
    resp = await client.im.v1.message.areply(req)
    assert resp.success(), resp.msg
    assert resp.data.parent_id == parent_id
    assert resp.data.root_id == parent_id
    assert resp.data.thread_id.startswith("omt_")
    assert resp.data.chat_id == "oc_team"

    reply = emu.find_message(resp.data.message_id)
    assert reply.parent_id == parent_id and reply.reply_in_thread
    assert [m.message_id for m in emu.messages_to("oc_team")] == [parent_id, reply.message_id]
    assert emu.cards_to("oc_team") == [card("answer")]

    missing = ReplyMessageRequest.builder().message_id("om_missing").request_body(body).build()
    bad = await client.im.v1.message.areply(missing)
    assert bad.code == 230011 and bad.raw.status_code == 400


async def test_sdk_patch_updates_card_and_enforces_shared_rule(emu):
    client = sdk(emu)
    sent = await client.im.v1.message.acreate(
        create_req("ou_bob", "interactive", json.dumps(card("v1")))
    )
    assert sent.success(), sent.msg
    mid = sent.data.message_id

    def patch(message_id, content):
        body = PatchMessageRequestBody.builder().content(content).build()
        return client.im.v1.message.apatch(
            PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
        )

    resp = await patch(mid, json.dumps(card("v2")))
    assert resp.success(), resp.msg
    assert emu.cards_to("ou_bob") == [card("v2")]
    stored = emu.find_message(mid)
    assert stored.content == card("v1")
    assert [u.via for u in stored.updates] == ["patch"]

    # 2.0 -> 1.0 is refused; unknown id; non-shared 1.0 cards; text messages
    resp = await patch(mid, json.dumps(card("old", v2=False)))
    assert resp.code == 230099 and "1.0" in resp.msg
    assert (await patch("om_unknown", json.dumps(card()))).code == 230011

    legacy = await client.im.v1.message.acreate(
        create_req("ou_bob", "interactive", json.dumps(card("l", v2=False, shared=False)))
    )
    assert legacy.success(), legacy.msg
    resp = await patch(legacy.data.message_id, json.dumps(card("l2", v2=False)))
    assert resp.code == 230001 and "shared" in resp.msg

    txt = await client.im.v1.message.acreate(create_req("ou_bob", "text", text("t")))
    resp = await patch(txt.data.message_id, json.dumps(card()))
    assert resp.code == 230001 and "interactive" in resp.msg
    assert emu.cards_to("ou_bob") == [card("v2"), card("l", v2=False, shared=False)]


async def test_sdk_sees_429_as_response_not_exception(emu):
    emu.app_per_second = 1
    client = sdk(emu)
    ok = await client.im.v1.message.acreate(create_req("ou_a", "text", text("1")))
    assert ok.success()
    limited = await client.im.v1.message.acreate(create_req("ou_b", "text", text("2")))
    assert limited.code == 99991400
    assert limited.raw.status_code == 429
    assert limited.raw.headers["x-ogw-ratelimit-limit"] == "1"
    assert int(limited.raw.headers["x-ogw-ratelimit-reset"]) >= 1
    assert emu.stats["http_429"] == 1


async def test_sdk_stale_token_after_revoke_gets_99991663(emu):
    client = sdk(emu)
    assert (await client.im.v1.message.acreate(create_req("ou_a", "text", text("1")))).success()
    emu.revoke_tokens()
    resp = await client.im.v1.message.acreate(create_req("ou_a", "text", text("2")))
    # the SDK does not refresh on 99991663: its cached token stays until expiry
    assert resp.code == 99991663 and resp.raw.status_code == 400
    TokenManager.cache.cache.pop(f"self_tenant_token:{emu.app_id}", None)
    resp = await client.im.v1.message.acreate(create_req("ou_a", "text", text("3")))
    assert resp.success(), resp.msg
    assert len(emu.requests_for("auth.tenant_token")) == 2
    assert [m.text for m in emu.messages] == ["1", "3"]


async def test_sdk_raises_jsondecodeerror_on_html_fault(emu):
    """fail_next with a non-JSON body: typed SDK calls raise json.JSONDecodeError."""
    client = sdk(emu)
    emu.fail_next("im.message.create", status=502, body=b"<html><h1>502 Bad Gateway</h1></html>")
    with pytest.raises(json.JSONDecodeError):
        await client.im.v1.message.acreate(create_req("ou_a", "text", text("1")))
    assert emu.messages == []
    assert (await client.im.v1.message.acreate(create_req("ou_a", "text", text("2")))).success()
    statuses = [(r["status"], r["fault"]) for r in emu.requests_for("im.message.create")]
    assert statuses == [(502, "injected"), (200, None)]
    assert emu.stats["faults_injected"] == 1


async def test_sdk_wrong_secret_raises_obtain_token_exception(emu):
    client = (
        lark.Client.builder()
        .app_id(emu.app_id)
        .app_secret("wrong")
        .domain(emu.base_url)
        .log_level(lark.LogLevel.CRITICAL)
        .build()
    )
    with pytest.raises(ObtainAccessTokenException) as info:
        await client.im.v1.message.acreate(create_req("ou_a", "text", text("1")))
    assert info.value.code == 10014
    assert emu.requests_for("auth.tenant_token")[0]["status"] == 400


async def test_sdk_bot_info_and_contact_user(emu):
    emu.add_user("ou_carol", "Carol", en_name="Carol")
    client = sdk(emu)
    req = (
        lark.BaseRequest.builder()
        .http_method(lark.HttpMethod.GET)
        .uri("/open-apis/bot/v3/info")
        .token_types({lark.AccessTokenType.TENANT})
        .build()
    )
    resp = await client.arequest(req)
    assert resp.code == 0
    bot = json.loads(resp.raw.content)["bot"]
    assert bot == bot | {"open_id": "ou_bot", "app_name": "DutyBot", "activate_status": 2}

    user = await client.contact.v3.user.aget(
        GetUserRequest.builder().user_id("ou_carol").user_id_type("open_id").build()
    )
    assert user.success(), user.msg
    assert user.data.user.name == "Carol" and user.data.user.open_id == "ou_carol"
    unknown = await client.contact.v3.user.aget(
        GetUserRequest.builder().user_id("ou_dave").user_id_type("open_id").build()
    )
    assert unknown.code == 41050


async def test_sdk_delayed_card_update_token_two_uses(emu):
    client = sdk(emu)
    sent = await client.im.v1.message.acreate(
        create_req("ou_erin", "interactive", json.dumps(card("pending")))
    )
    mid = sent.data.message_id
    token = emu.issue_callback_token(mid)
    assert token.startswith("c-")

    async def update(tok, new_card):
        req = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.POST)
            .uri("/open-apis/interactive/v1/card/update")
            .token_types({lark.AccessTokenType.TENANT})
            .body({"token": tok, "card": new_card})
            .build()
        )
        resp = await client.arequest(req)
        # async arequest looks up "Content-Type" in httpx's lower-cased headers, so it never
        # parses the JSON body: code is 0 for any 2xx and None otherwise. Parse raw.content.
        assert resp.code == (0 if resp.raw.status_code == 200 else None)
        return lark.JSON.unmarshal(resp.raw.content.decode(), lark.BaseResponse)

    assert (await update(token, card("approved"))).code == 0
    assert (await update(token, card("approved again"))).code == 0
    third = await update(token, card("three"))
    assert third.code == 230001 and "used up" in third.msg
    assert emu.cards_to("ou_erin") == [card("approved again")]
    assert [u.via for u in emu.find_message(mid).updates] == ["card.update", "card.update"]

    late = emu.issue_callback_token(mid)
    emu.advance(31 * 60)
    expired = await update(late, card("late"))
    assert expired.code == 230001 and "expired" in expired.msg
    assert (await update("c-forged", card("x"))).code == 230001
    fresh = emu.issue_callback_token(mid)
    downgrade = await update(fresh, card("v1", v2=False))
    assert downgrade.code == 230099
    with pytest.raises(KeyError):
        emu.issue_callback_token("om_unknown")


# --------------------------------------------------------------------- raw HTTP


async def test_uuid_idempotency_returns_same_message(emu, raw):
    s1, _, b1 = await raw.send("ou_a", text("once"), uuid="task-42")
    s2, _, b2 = await raw.send("ou_a", text("once"), uuid="task-42")
    assert s1 == s2 == 200
    assert b1["data"]["message_id"] == b2["data"]["message_id"]
    assert len(emu.messages) == 1
    assert emu.stats["uuid_hits"] == 1
    # after an hour the uuid is forgotten
    emu.advance(3601)
    _, _, b3 = await raw.send("ou_a", text("once"), uuid="task-42")
    assert b3["data"]["message_id"] != b1["data"]["message_id"]
    assert len(emu.messages) == 2

    status, _, body = await raw.send("ou_a", text("x"), uuid="u" * 51)
    assert status == 400 and body["code"] == 230001 and "uuid" in body["msg"]
    assert (await raw.send("ou_a", text("x"), uuid="u" * 50))[0] == 200


async def test_replies_to_registered_incoming_messages(emu, raw):
    async def reply(mid):
        return await raw.call(
            "POST",
            f"/open-apis/im/v1/messages/{mid}/reply",
            json_body={"msg_type": "text", "content": text("answer")},
        )

    assert (await reply("om_from_user"))[2]["code"] == 230011
    envelope = {
        "schema": "2.0",
        "header": {"event_type": "im.message.receive_v1"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_user"}},
            "message": {
                "message_id": "om_from_user",
                "chat_id": "oc_p2p_user",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": "help"}),
            },
        },
    }
    assert emu.register_event(envelope) == "om_from_user"
    assert emu.register_event({"header": {"event_type": "card.action.trigger"}}) is None
    status, _, body = await reply("om_from_user")
    assert status == 200 and body["data"]["parent_id"] == "om_from_user"
    assert body["data"]["chat_id"] == "oc_p2p_user"
    assert emu.find_message("om_from_user").incoming
    assert [m.text for m in emu.messages] == ["answer"]  # incoming ones are not listed
    assert [m.text for m in emu.messages_to("ou_user")] == ["answer"]
    # the learned p2p chat is used for later sends to that user
    _, _, body = await raw.send("ou_user")
    assert body["data"]["chat_id"] == "oc_p2p_user"

    group = emu.add_incoming_message(chat_id="oc_team", sender_open_id="ou_x", chat_type="group")
    _, _, body = await reply(group)
    assert body["data"]["chat_id"] == "oc_team"
    assert emu.messages_to("oc_team")[0].receive_id == "oc_team"
    assert (await raw.patch(group, card()))[2]["code"] == 230001


async def test_fail_after_commit_then_retry_with_uuid_does_not_duplicate(emu, raw):
    emu.fail_after_commit("im.message.create")
    status, _, body = await raw.send("ou_a", text("report"), uuid="out-7")
    assert status == 500 and body["code"] == 1
    assert len(emu.messages) == 1  # stored although the answer was 500
    status, _, body = await raw.send("ou_a", text("report"), uuid="out-7")
    assert status == 200
    assert body["data"]["message_id"] == emu.messages[0].message_id
    assert len(emu.messages) == 1
    assert [r["fault"] for r in emu.requests_for("im.message.create")] == [
        "injected_after_commit",
        None,
    ]


async def test_size_limits_card_30k_text_150k(emu, raw):
    def padded_card(total: int) -> str:
        base = json.dumps(card(""))
        pad = total - len(base.encode())
        return json.dumps(card("a" * pad))

    ok = padded_card(30 * 1024)
    assert len(ok.encode()) == 30 * 1024
    assert (await raw.send("ou_a", ok, msg_type="interactive"))[0] == 200
    status, _, body = await raw.send("ou_b", padded_card(30 * 1024 + 1), msg_type="interactive")
    assert status == 400 and body["code"] == 230025

    # UTF-8 bytes count, not characters
    big_text = json.dumps({"text": "汉" * (51 * 1024)}, ensure_ascii=False)
    assert len(big_text) < 150 * 1024 < len(big_text.encode())
    status, _, body = await raw.send("ou_c", big_text)
    assert body["code"] == 230025
    assert (await raw.send("ou_c", json.dumps({"text": "a" * 100_000})))[0] == 200

    mid = emu.messages[0].message_id
    status, _, body = await raw.call(
        "PATCH",
        f"/open-apis/im/v1/messages/{mid}",
        json_body={"content": padded_card(30 * 1024 + 1)},
    )
    assert body["code"] == 230025
    assert len(emu.messages) == 2


async def test_app_rate_limit_429_with_reset_header(emu, raw):
    emu.app_per_second = 3
    results = [await raw.send(f"ou_{i}") for i in range(4)]
    assert [r[0] for r in results] == [200, 200, 200, 429]
    _, headers, body = results[3]
    assert body == {"code": 99991400, "msg": "request trigger frequency limit"}
    assert headers["x-ogw-ratelimit-limit"] == "3"
    assert headers["x-ogw-ratelimit-reset"] == "1"
    assert len(emu.messages) == 3
    emu.advance(1)  # the window runs on the emulator's clock: a second later it has room
    assert (await raw.send("ou_9"))[0] == 200
    assert emu.stats["http_429"] == 1


async def test_app_rate_limit_minute_window_reset(emu, raw):
    emu.app_per_minute = 4
    for i in range(4):
        assert (await raw.send(f"ou_{i}"))[0] == 200
    status, headers, _ = await raw.send("ou_x")
    assert status == 429
    assert headers["x-ogw-ratelimit-limit"] == "4"
    assert 55 <= int(headers["x-ogw-ratelimit-reset"]) <= 60
    # limits are per API: replies have their own budget
    mid = emu.messages[0].message_id
    status, _, _ = await raw.call(
        "POST",
        f"/open-apis/im/v1/messages/{mid}/reply",
        json_body={"msg_type": "text", "content": text("r")},
    )
    assert status == 200


def test_default_limits_match_feishu_docs():
    e = FeishuEmulator()
    assert (e.app_per_second, e.app_per_minute, e.receiver_per_second, e.patch_per_second) == (
        50,
        1000,
        5,
        5,
    )
    assert e.limits_enabled and e.token_ttl == 7200
    assert (e.app_id, e.app_secret, e.bot_open_id, e.app_name) == (
        "cli_test",
        "secret_test",
        "ou_bot",
        "DutyBot",
    )


async def test_per_receiver_limit_230020_and_switch_off(emu, raw):
    results = [await raw.send("ou_busy") for _ in range(6)]
    assert [r[0] for r in results] == [200] * 5 + [400]
    assert results[5][2] == {"code": 230020, "msg": "This operation triggers the frequency limit."}
    assert (await raw.send("ou_other"))[0] == 200
    # replies into the same chat share the receiver budget
    mid = emu.messages[0].message_id
    status, _, body = await raw.call(
        "POST",
        f"/open-apis/im/v1/messages/{mid}/reply",
        json_body={"msg_type": "text", "content": text("r")},
    )
    assert body["code"] == 230020
    assert emu.stats["code_230020"] == 2

    emu.limits_enabled = False
    assert [(await raw.send("ou_free"))[0] for _ in range(12)] == [200] * 12


async def test_patch_limits_per_message_and_14_days(emu, raw):
    _, _, body = await raw.send("ou_a", json.dumps(card("v0")), msg_type="interactive")
    mid = body["data"]["message_id"]
    codes = [(await raw.patch(mid, card(f"v{i}")))[2]["code"] for i in range(1, 7)]
    assert codes == [0] * 5 + [230020]
    assert emu.cards_to("ou_a") == [card("v5")]
    emu.advance(14 * 86400 + 1)
    await raw.get_token()  # the old tenant token expired with the jump (so did the 1 s window)
    status, _, body = await raw.patch(mid, card("late"))
    assert status == 400 and body["code"] == 230031


async def test_auth_missing_and_revoked_tokens(emu, raw):
    status, _, body = await raw.call("GET", "/open-apis/bot/v3/info", auth=False)
    assert status == 400 and body["code"] == 99991661
    await raw.get_token()
    status, _, body = await raw.call("GET", "/open-apis/bot/v3/info")
    assert status == 200 and body["bot"]["open_id"] == "ou_bot"
    emu.revoke_tokens()
    status, _, body = await raw.call("GET", "/open-apis/bot/v3/info")
    assert status == 400 and body["code"] == 99991663
    raw.token = "t-forged"
    assert (await raw.call("GET", "/open-apis/bot/v3/info"))[2]["code"] == 99991663
    await raw.get_token()
    assert (await raw.call("GET", "/open-apis/bot/v3/info"))[0] == 200


async def test_token_reuse_and_expiry(emu, raw):
    t1 = await raw.get_token()
    t2 = await raw.get_token()
    assert t1 == t2
    emu.advance(7200 - 1700)  # < 30 min left: a new token, the old one still valid
    t3 = await raw.get_token()
    assert t3 != t1
    raw.token = t1
    assert (await raw.call("GET", "/open-apis/bot/v3/info"))[0] == 200
    emu.advance(1800)
    assert (await raw.call("GET", "/open-apis/bot/v3/info"))[2]["code"] == 99991663
    raw.token = t3
    assert (await raw.call("GET", "/open-apis/bot/v3/info"))[0] == 200
    status, _, body = await raw.call(
        "POST",
        "/open-apis/auth/v3/tenant_access_token/internal",
        json_body={"app_id": emu.app_id, "app_secret": "nope"},
        auth=False,
    )
    assert status == 400 and body == {"code": 10014, "msg": "app secret invalid"}


# fmt: off
@pytest.mark.parametrize(
    ("params", "payload", "code", "needle"),
    [
        ({}, {"receive_id": "ou_a", "msg_type": "text", "content": text("x")}, 230001, "receive_id_type"),
        ({"receive_id_type": "phone"}, {"receive_id": "ou_a", "msg_type": "text", "content": text("x")}, 230001, "receive_id_type"),
        ({"receive_id_type": "open_id"}, {"msg_type": "text", "content": text("x")}, 230001, "receive_id"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "fax", "content": text("x")}, 230001, "msg_type"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "text", "content": "{not json"}, 230001, "JSON"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "text", "content": {"text": "x"}}, 230001, "JSON string"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "text", "content": "{}"}, 230001, "text"),
        ({"receive_id_type": "chat_id"}, {"receive_id": "ou_a", "msg_type": "text", "content": text("x")}, 230001, "oc_"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "interactive", "content": "[1]"}, 230099, "object"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "interactive", "content": json.dumps({"header": {}})}, 230099, "elements"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "interactive", "content": json.dumps({"schema": "2.0", "elements": []})}, 230099, "body"),
        ({"receive_id_type": "open_id"}, {"receive_id": "ou_a", "msg_type": "interactive", "content": json.dumps({"body": {"elements": []}})}, 230099, "schema"),
    ],
)
# fmt: on
async def test_validation_errors(emu, raw, params, payload, code, needle):
    status, _, body = await raw.call(
        "POST", "/open-apis/im/v1/messages", json_body=payload, params=params
    )
    assert status == 400
    assert body["code"] == code
    assert needle in body["msg"]
    assert emu.messages == []


async def test_malformed_requests_get_json_errors_not_tracebacks(emu, raw):
    await raw.get_token()
    for data in (b"", b"{", b"[]", b"null", b"\xff\xfe", b'{"receive_id": 5}'):
        status, _, body = await raw.call(
            "POST", "/open-apis/im/v1/messages", data=data, params={"receive_id_type": "open_id"}
        )
        assert status == 400 and body["code"] == 230001, (data, body)
    status, _, body = await raw.call(
        "POST", "/open-apis/auth/v3/tenant_access_token/internal", data=b"nope", auth=False
    )
    assert status == 400 and body["code"] == 10003
    status, _, body = await raw.call("GET", "/open-apis/no/such/api")
    assert status == 404 and body["code"] == 404
    status, _, body = await raw.call(
        "PATCH", "/open-apis/im/v1/messages/om_x", json_body={"content": 5}
    )
    assert status == 400 and body["code"] == 230011
    assert emu.stats["internal_errors"] == 0


async def test_card_validator_hook(raw):
    seen = []

    def validator(c: dict) -> list[str]:
        seen.append(c)
        return ["body.elements[0]: unknown tag 'blink'"] if "blink" in json.dumps(c) else []

    with FeishuEmulator(card_validator=validator) as e:
        raw.emu = e
        raw.token = None
        assert (await raw.send("ou_a", json.dumps(card("ok")), msg_type="interactive"))[0] == 200
        status, _, body = await raw.send("ou_a", json.dumps(card("blink")), msg_type="interactive")
        assert status == 400 and body["code"] == 230099
        assert "Failed to create card content" in body["msg"] and "blink" in body["msg"]
        # legacy 1.0 cards only get the emulator's own checks
        legacy = json.dumps(card("blink", v2=False))
        assert (await raw.send("ou_a", legacy, msg_type="interactive"))[0] == 200
        assert len(seen) == 2


def test_default_validator_is_cards_schema_when_importable():
    try:
        from cards.schema import validate_card
    except ImportError:
        validate_card = None
    e = FeishuEmulator()
    assert e.card_validator is validate_card


async def test_real_card_schema_agrees_on_obvious_cases(raw):
    schema = pytest.importorskip("cards.schema")
    assert schema.validate_card(card("fine")) == []
    with FeishuEmulator() as e:
        raw.emu, raw.token = e, None
        assert (await raw.send("ou_a", json.dumps(card("ok")), msg_type="interactive"))[0] == 200
        broken = card("x")
        broken["body"]["elements"] = [{"content": "no tag"}]
        status, _, body = await raw.send("ou_a", json.dumps(broken), msg_type="interactive")
        assert status == 400 and body["code"] == 230099


async def test_fail_next_json_fault_times_and_headers(emu, raw):
    emu.fail_next("im.message.create", status=429, times=2)
    emu.fail_next("im.message.create", status=400, code=230020, msg="slow down")
    r1, r2, r3, r4 = [await raw.send("ou_a") for _ in range(4)]
    assert r1[0] == r2[0] == 429 and r1[2]["code"] == 99991400
    assert r1[1]["x-ogw-ratelimit-reset"] == "1"
    assert r3[0] == 400 and r3[2] == {"code": 230020, "msg": "slow down"}
    assert r4[0] == 200
    assert emu.stats["http_429"] == 2 and emu.stats["code_230020"] == 1
    assert len(emu.messages) == 1
    with pytest.raises(ValueError):
        emu.fail_next("im.message.send")
    with pytest.raises(ValueError):
        emu.set_delay("nope", 1)

    emu.fail_next("auth.tenant_token", status=503, body="upstream down", headers={"Content-Type": "text/plain"})
    status, headers, body = await raw.call(
        "POST",
        "/open-apis/auth/v3/tenant_access_token/internal",
        json_body={"app_id": emu.app_id, "app_secret": emu.app_secret},
        auth=False,
    )
    assert status == 503 and body == b"upstream down"
    assert headers["Content-Type"].startswith("text/plain")


async def test_set_delay_slows_only_that_api(emu, raw):
    await raw.get_token()
    emu.set_delay("im.message.create", 0.5)
    t0 = time.monotonic()
    assert (await raw.send("ou_a"))[0] == 200
    slow = time.monotonic() - t0
    t0 = time.monotonic()
    assert (await raw.call("GET", "/open-apis/bot/v3/info"))[0] == 200
    fast = time.monotonic() - t0
    assert slow >= 0.5 and fast < 0.4
    # the loop keeps serving while one request sleeps
    t0 = time.monotonic()
    res = await asyncio.gather(raw.send("ou_b"), raw.send("ou_c"), raw.send("ou_d"))
    assert [r[0] for r in res] == [200, 200, 200]
    assert time.monotonic() - t0 < 1.2  # serial would be >= 1.5
    emu.set_delay("im.message.create", None)
    t0 = time.monotonic()
    await raw.send("ou_e")
    assert time.monotonic() - t0 < 0.4


async def test_await_and_wait_for_messages(emu, raw):
    async def later():
        await asyncio.sleep(0.2)
        await raw.send("ou_a")
        await raw.send("ou_b")

    task = asyncio.create_task(later())
    msgs = await emu.await_messages(2, timeout=3)
    assert [m.receive_id for m in msgs] == ["ou_a", "ou_b"]
    await task
    with pytest.raises(TimeoutError):
        await emu.await_messages(3, timeout=0.2)

    # blocking variant from a worker thread while the test's loop sends
    out: dict = {}

    def waiter():
        try:
            t0 = time.monotonic()
            out["msgs"] = emu.wait_for_messages(3, timeout=3)
            out["waited"] = time.monotonic() - t0  # woken by the store, not by the timeout
        except Exception as exc:  # pragma: no cover - reported below
            out["error"] = exc

    th = threading.Thread(target=waiter)
    th.start()
    await raw.send("ou_c")
    await asyncio.to_thread(th.join, 5)
    assert "error" not in out and len(out["msgs"]) == 3
    assert out["waited"] < 2
    with pytest.raises(TimeoutError):
        emu.wait_for_messages(10, timeout=0.1)


async def test_reset_clears_records_keeps_config_and_tokens(emu, raw):
    emu.add_user("ou_u", "U")
    await raw.send("ou_a", uuid="k1")
    emu.fail_next("bot.info")
    emu.set_delay("bot.info", 5)
    emu.limits_enabled, emu.receiver_per_second = False, 1
    emu.advance(3 * 86400)
    before = emu.now()
    emu.reset()
    assert emu.now() < before - 86400
    assert emu.limits_enabled and emu.receiver_per_second == 5
    assert emu.messages == [] and emu.requests == [] and emu.stats["requests"] == 0
    assert (await raw.call("GET", "/open-apis/bot/v3/info"))[0] == 200  # fault cleared, token kept
    _, _, body = await raw.call("GET", "/open-apis/contact/v3/users/ou_u")
    assert body["data"]["user"]["name"] == "U"
    await raw.send("ou_a", uuid="k1")  # uuid memory cleared too
    assert len(emu.messages) == 1
    assert emu.app_id.startswith("cli_emu_")


async def test_concurrent_sends_are_all_recorded(emu, raw):
    emu.limits_enabled = False
    await raw.get_token()
    res = await asyncio.gather(*(raw.send(f"ou_{i % 7}", text(str(i))) for i in range(40)))
    assert all(r[0] == 200 for r in res)
    ids = {r[2]["data"]["message_id"] for r in res}
    assert len(ids) == 40 == len(emu.messages)
    assert emu.stats["by_api"]["im.message.create"] == 40


def test_start_stop_restart_and_context_manager():
    e = FeishuEmulator(port=0)
    url = e.start()
    assert url.startswith("http://127.0.0.1:") and e.start() == url
    e.stop()
    e.stop()
    with pytest.raises(RuntimeError):
        _ = e.base_url
    with e as again:
        assert again.base_url.startswith("http://127.0.0.1:")
    assert API_NAMES >= {"im.message.create", "im.message.reply", "im.message.patch", "card.update"}
