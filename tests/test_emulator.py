"""The local Feishu emulator over plain HTTP: uuids, limits, validation, faults, delays,
waiting, reset and lifecycle."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from bot.devtools.emulator import API_NAMES, FeishuEmulator
from tests.emulator_helpers import card, text

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
