"""Turn one raw webhook request into a verified envelope, a challenge, or a rejection.

Pure: no I/O, no clock of its own (the caller passes `now`). Every failure is a
`Rejected` with a 4xx status and a short fixed text; nothing here raises for bad input.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.fast import loads
from bot.transport.crypto import DecryptError, decrypt, signature_matches

MAX_BODY_BYTES = 1024 * 1024
# A signed request's X-Lark-Request-Timestamp may be this far ahead of our clock (skew) ...
MAX_CLOCK_SKEW = timedelta(minutes=5)
# ... and this far behind: Feishu retries an unanswered event after 15 s, 5 min, 1 h and 6 h
# (~7.1 h in all), so a tighter window would refuse its own retries.
DEFAULT_SIGNATURE_TOLERANCE = timedelta(hours=8)
MAX_HEADER_CHARS = 256
CALLBACK_TYPES = frozenset({"card.action.trigger", "url.preview.get"})


@dataclass(frozen=True)
class WebhookKeys:
    verification_token: str = ""
    encrypt_key: str = ""


@dataclass(frozen=True)
class Rejected:
    status: int
    reason: str


@dataclass(frozen=True)
class Challenge:
    challenge: str


@dataclass(frozen=True)
class Envelope:
    """A verified v2 event or callback."""

    event_id: str
    event_type: str
    dedupe_key: str
    created_at: datetime
    payload: dict[str, Any]
    text: str  # the event's JSON exactly as received (decrypted), stored as-is
    stale: bool = False

    @property
    def is_callback(self) -> bool:
        return self.event_type in CALLBACK_TYPES


IngressResult = Rejected | Challenge | Envelope

BAD_BODY = Rejected(400, "bad request")
BAD_SIGNATURE = Rejected(401, "invalid signature")
BAD_TOKEN = Rejected(401, "invalid token")
BAD_TIMESTAMP = Rejected(401, "request timestamp out of range")


def _loads(raw: bytes) -> Any:
    try:
        return loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def parse_timestamp(value: Any) -> datetime | None:
    """Feishu's create_time: seconds, milliseconds or microseconds since the epoch, as a string."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    if number <= 0:
        return None
    if number > 10**14:
        seconds = number / 1_000_000
    elif number > 10**11:
        seconds = number / 1000
    else:
        seconds = float(number)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


SIGNATURE_HEADERS = ("X-Lark-Request-Timestamp", "X-Lark-Request-Nonce", "X-Lark-Signature")


def _header(value: Any) -> str | None:
    """A signature header's value as printable ASCII, or None. aiohttp hands over
    undecodable bytes as surrogates; they must become a 401, not an encoding error."""
    if not isinstance(value, str) or not value or len(value) > MAX_HEADER_CHARS:
        return None
    return value if value.isascii() and value.isprintable() else None


def _id_ok(value: Any, max_chars: int = 128) -> bool:
    """Ids we store and key on: non-empty printable text (no NUL, no lone surrogates,
    which no database column accepts) of a sane length."""
    return isinstance(value, str) and 0 < len(value) <= max_chars and value.isprintable()


def _token_ok(keys: WebhookKeys, given: Any) -> bool:
    if not keys.verification_token:
        return True  # offline development: nothing to compare with (the CLI warns loudly)
    return isinstance(given, str) and hmac.compare_digest(
        given.encode(), keys.verification_token.encode()
    )


def _fresh(timestamp: str, now: datetime, tolerance: timedelta) -> bool:
    """X-Lark-Request-Timestamp (seconds since the epoch) is within the accepted window."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    sent, at = int(timestamp), now.timestamp()
    return at - tolerance.total_seconds() <= sent <= at + MAX_CLOCK_SKEW.total_seconds()


def parse_request(
    body: bytes,
    headers: Mapping[str, str],
    keys: WebhookKeys,
    now: datetime,
    max_age: timedelta,
    tolerance: timedelta = DEFAULT_SIGNATURE_TOLERANCE,
) -> IngressResult:
    """Verify and parse a webhook body (see the module docstring). A signed request's
    timestamp must lie within `tolerance` before `now` and MAX_CLOCK_SKEW after it."""
    if not body:
        return BAD_BODY
    if len(body) > MAX_BODY_BYTES:
        return Rejected(413, "body too large")
    outer = _loads(body)
    if not isinstance(outer, dict):
        return BAD_BODY

    if "encrypt" in outer:
        if not keys.encrypt_key:
            return Rejected(400, "encrypted body but no encrypt key configured")
        if not isinstance(outer["encrypt"], str) or len(outer) != 1:
            return BAD_BODY
        given = [headers.get(name) for name in SIGNATURE_HEADERS]
        checked = [_header(value) for value in given]
        ts, nonce, sig = checked
        signed = bool(ts and nonce and sig)
        if not signed and any(v and h is None for v, h in zip(given, checked, strict=True)):
            return BAD_SIGNATURE  # present but oversized or not printable ASCII
        if signed and not signature_matches(ts, nonce, keys.encrypt_key, body, sig):
            return BAD_SIGNATURE
        if signed and not _fresh(ts, now, tolerance):
            return BAD_TIMESTAMP
        try:
            plain = decrypt(keys.encrypt_key, outer["encrypt"])
        except DecryptError:
            return BAD_BODY
        data = _loads(plain)
        if not isinstance(data, dict):
            return BAD_BODY
        # Only the URL check may come unsigned (the SDK answers it before any signature
        # check); decrypting it already proves the sender holds the key.
        if not signed and data.get("type") != "url_verification":
            return BAD_SIGNATURE
    else:
        if keys.encrypt_key:
            return Rejected(400, "expected an encrypted body")
        data, plain = outer, body

    if data.get("type") == "url_verification":
        if not _token_ok(keys, data.get("token")):
            return BAD_TOKEN
        challenge = data.get("challenge")
        return Challenge(challenge) if isinstance(challenge, str) else BAD_BODY

    if data.get("schema") != "2.0":
        # v1 envelopes ("uuid"/"event_callback") and legacy card callbacks are not subscribed
        # by DutyBot; say so instead of pretending success.
        return Rejected(400, "unsupported payload: subscribe to v2.0 events")
    header, event = data.get("header"), data.get("event")
    if not isinstance(header, dict) or not isinstance(event, dict):
        return BAD_BODY
    if not _token_ok(keys, header.get("token")):
        return BAD_TOKEN
    event_id, event_type = header.get("event_id"), header.get("event_type")
    if not _id_ok(event_id) or not _id_ok(event_type):
        return BAD_BODY
    created_at = parse_timestamp(header.get("create_time"))
    if created_at is None:
        return BAD_BODY

    dedupe_key = f"evt:{event_id}"
    if event_type == "im.message.receive_v1":
        # Feishu: de-duplicate messages by message_id; event_id can change on redelivery.
        message = event.get("message")
        message_id = message.get("message_id") if isinstance(message, dict) else None
        if not _id_ok(message_id, 150):
            return BAD_BODY
        dedupe_key = f"msg:{message_id}"
    return Envelope(
        event_id=event_id,
        event_type=event_type,
        dedupe_key=dedupe_key,
        created_at=created_at,
        payload=data,
        text=plain.decode("utf-8"),
        stale=now - created_at > max_age,
    )
