"""The verification layer, as a pure function: every rule of the webhook's edge."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.transport.crypto import DecryptError, decrypt, encrypt, signature
from bot.transport.ingress import (
    Challenge,
    Envelope,
    Rejected,
    WebhookKeys,
    parse_request,
    parse_timestamp,
)
from tests import feishu_events as fe

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
KEYS = WebhookKeys(fe.VERIFICATION_TOKEN, fe.ENCRYPT_KEY)
AGE = timedelta(hours=12)


def parse(req: fe.SignedRequest, keys: WebhookKeys = KEYS, now: datetime = NOW):
    return parse_request(req.body, req.headers, keys, now, AGE)


def test_official_aes_vector_decrypts():
    assert decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"


def test_encrypt_round_trips():
    assert decrypt("k", encrypt("k", "你好".encode())) == "你好".encode()


@pytest.mark.parametrize(
    "bad",
    ["not base64!!", base64.b64encode(b"short").decode(), base64.b64encode(b"x" * 40).decode()],
)
def test_decrypt_rejects_garbage(bad):
    with pytest.raises(DecryptError):
        decrypt("k", bad)


def test_signed_encrypted_message_is_accepted_and_keyed_by_message_id():
    payload = fe.message("待办", "ou_a", NOW, message_id="om_1")
    result = parse(fe.sign(payload))
    assert isinstance(result, Envelope)
    assert result.dedupe_key == "msg:om_1"
    assert result.event_type == "im.message.receive_v1" and not result.stale


def test_other_events_are_keyed_by_event_id():
    payload = fe.envelope("im.chat.member.bot.added_v1", {"chat_id": "oc_1"}, NOW, event_id="e1")
    result = parse(fe.sign(payload))
    assert isinstance(result, Envelope) and result.dedupe_key == "evt:e1"


def test_url_verification_encrypted_without_signature_headers():
    body = json.dumps(
        {
            "encrypt": encrypt(
                fe.ENCRYPT_KEY,
                json.dumps(
                    {"challenge": "abc", "token": fe.VERIFICATION_TOKEN, "type": "url_verification"}
                ).encode(),
            )
        }
    ).encode()
    assert parse_request(body, {}, KEYS, NOW, AGE) == Challenge("abc")


def test_url_verification_plain_when_no_encrypt_key():
    body = json.dumps(
        {"challenge": "xyz", "token": fe.VERIFICATION_TOKEN, "type": "url_verification"}
    ).encode()
    assert parse_request(body, {}, WebhookKeys(fe.VERIFICATION_TOKEN, ""), NOW, AGE) == Challenge(
        "xyz"
    )


def test_url_verification_with_wrong_token_is_refused():
    body = json.dumps({"challenge": "xyz", "token": "wrong", "type": "url_verification"}).encode()
    assert parse_request(body, {}, WebhookKeys(fe.VERIFICATION_TOKEN, ""), NOW, AGE) == Rejected(
        401, "invalid token"
    )


def test_tampered_body_fails_signature():
    req = fe.sign(fe.message("hi", "ou_a", NOW))
    tampered = req.body.replace(b'"}', b'A"}')
    assert parse_request(tampered, req.headers, KEYS, NOW, AGE) == Rejected(
        401, "invalid signature"
    )


def test_wrong_encrypt_key_fails_signature():
    req = fe.sign(fe.message("hi", "ou_a", NOW), encrypt_key="someone else's key")
    assert parse(req).status == 401


def test_signature_check_is_over_raw_bytes():
    req = fe.sign(fe.message("hi", "ou_a", NOW))
    reserialised = json.dumps(json.loads(req.body), indent=2).encode()
    assert parse_request(reserialised, req.headers, KEYS, NOW, AGE).status == 401


def test_unsigned_event_is_refused_when_encrypted():
    req = fe.sign(fe.message("hi", "ou_a", NOW))
    assert parse_request(req.body, {}, KEYS, NOW, AGE) == Rejected(401, "invalid signature")


def test_wrong_verification_token_is_refused():
    payload = fe.message("hi", "ou_a", NOW)
    payload["header"]["token"] = "forged"
    assert parse(fe.sign(payload)) == Rejected(401, "invalid token")


def test_plaintext_body_refused_when_encrypt_key_configured():
    req = fe.sign(fe.message("hi", "ou_a", NOW), encrypted=False)
    assert parse(req).status == 400


def test_encrypted_body_refused_without_key():
    req = fe.sign(fe.message("hi", "ou_a", NOW))
    assert parse(req, WebhookKeys(fe.VERIFICATION_TOKEN, "")).status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"str"',
        b"{",
        b"\xff\xfe",
        b'{"encrypt": 5}',
        b'{"encrypt": "@@@"}',
        b'{"schema": "2.0"}',
        b'{"schema": "2.0", "header": [], "event": {}}',
        b"[" * 100000 + b"]" * 100000,
        b'{"uuid": "x", "token": "t", "type": "event_callback", "event": {}}',
    ],
)
def test_malformed_bodies_get_4xx(body):
    keys = WebhookKeys(fe.VERIFICATION_TOKEN, "")
    result = parse_request(body, {}, keys, NOW, AGE)
    assert isinstance(result, Rejected) and 400 <= result.status < 500


def test_bad_padding_inside_valid_base64_is_400():
    junk = base64.b64encode(b"0" * 16 + b"1" * 32).decode()
    body = json.dumps({"encrypt": junk}).encode()
    ts, nonce = str(int(NOW.timestamp())), "n"
    headers = {
        "X-Lark-Request-Timestamp": ts,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature(ts, nonce, fe.ENCRYPT_KEY, body),
    }
    assert parse_request(body, headers, KEYS, NOW, AGE) == Rejected(400, "bad request")


@pytest.mark.parametrize(
    "field,value",
    [("event_id", 5), ("event_type", None), ("create_time", "soon"), ("create_time", True)],
)
def test_wrong_header_types_are_400(field, value):
    payload = fe.message("hi", "ou_a", NOW)
    payload["header"][field] = value
    assert parse(fe.sign(payload)).status == 400


def test_message_without_message_id_is_400():
    payload = fe.message("hi", "ou_a", NOW)
    del payload["event"]["message"]["message_id"]
    assert parse(fe.sign(payload)).status == 400


def test_old_events_are_marked_stale():
    payload = fe.message("hi", "ou_a", NOW - timedelta(hours=13))
    result = parse(fe.sign(payload, timestamp=str(int(NOW.timestamp()))))  # sent just now
    assert isinstance(result, Envelope) and result.stale
    fresh = parse(
        fe.sign(
            fe.message("hi", "ou_a", NOW - timedelta(hours=11)), timestamp=str(int(NOW.timestamp()))
        )
    )
    assert not fresh.stale


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("1608725989000", datetime(2020, 12, 23, 12, 19, 49, tzinfo=UTC)),
        ("1603977298000000", datetime(2020, 10, 29, 13, 14, 58, tzinfo=UTC)),
        ("1603977298", datetime(2020, 10, 29, 13, 14, 58, tzinfo=UTC)),
    ],
)
def test_create_time_units(raw, expected):
    assert parse_timestamp(raw) == expected


def test_oversized_body_is_413():
    assert parse_request(b"{" + b" " * (1024 * 1024 + 1) + b"}", {}, KEYS, NOW, AGE).status == 413
