"""The local Feishu emulator as the real lark-oapi SDK sees it: tokens, sends, replies,
patches, delayed updates, faults."""

from __future__ import annotations

import json

import lark_oapi as lark
import pytest
from lark_oapi.api.contact.v3 import GetUserRequest
from lark_oapi.api.im.v1 import (
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token.manager import TokenManager

from tests.emulator_helpers import card, create_req, sdk, text

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
