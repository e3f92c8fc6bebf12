"""Message-content and card checks used by the Feishu emulator.

Pure functions, no I/O. Each check returns a short, human-readable problem text (or a list of
them) that ends up in the emulator's Feishu-style error `msg`, so a failing test says *why*.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# Feishu size limits (send, reply, PATCH): card and post content <= 30 KB, text <= 150 KB,
# measured here on the UTF-8 bytes of the `content` *string*.
CARD_MAX_BYTES = 30 * 1024
POST_MAX_BYTES = 30 * 1024
TEXT_MAX_BYTES = 150 * 1024
UUID_MAX_CHARS = 50

MSG_TYPES = frozenset(
    {
        "text",
        "post",
        "image",
        "file",
        "audio",
        "media",
        "sticker",
        "interactive",
        "share_chat",
        "share_user",
        "system",
    }
)
RECEIVE_ID_TYPES = frozenset({"open_id", "user_id", "union_id", "email", "chat_id"})

CardValidator = Callable[[dict], list[str]]


def size_limit(msg_type: str) -> int | None:
    """Byte limit for a content string of this msg_type (None: no limit enforced)."""
    if msg_type == "interactive":
        return CARD_MAX_BYTES
    if msg_type == "post":
        return POST_MAX_BYTES
    if msg_type == "text":
        return TEXT_MAX_BYTES
    return None


def receive_id_problem(receive_id_type: str, receive_id: str) -> str | None:
    """Catch the classic id/type mix-ups (an open_id sent as chat_id, ...)."""
    prefixes = {"open_id": "ou_", "chat_id": "oc_", "union_id": "on_"}
    want = prefixes.get(receive_id_type)
    if want is not None and not receive_id.startswith(want):
        return f"invalid receive_id {receive_id!r} for receive_id_type={receive_id_type} (expected prefix {want!r})"
    if receive_id_type == "email" and "@" not in receive_id:
        return f"invalid receive_id {receive_id!r} for receive_id_type=email"
    return None


def parse_content(content: Any) -> tuple[Any, str | None]:
    """`content` must be a string holding a JSON object. Returns (parsed, problem)."""
    if not isinstance(content, str):
        return None, "content must be a JSON string (serialise the object with json.dumps)"
    if not content:
        return None, "content is empty"
    try:
        parsed = json.loads(content)
    except ValueError as exc:
        return None, f"content is not valid JSON: {exc}"
    if not isinstance(parsed, dict):
        return None, "content must be a JSON object"
    return parsed, None


def content_problem(msg_type: str, parsed: dict) -> str | None:
    """Minimal per-type shape checks for non-card content."""
    if msg_type == "text":
        text = parsed.get("text")
        if not isinstance(text, str):
            return 'text content must be {"text": "<string>"}'
        if not text.strip():
            return "text content is empty"
    elif msg_type == "post":
        if not parsed:
            return "post content is empty"
        if not all(isinstance(v, dict) for v in parsed.values()):
            return 'post content must be {"<locale>": {"title": ..., "content": [[...]]}}'
    elif msg_type == "image" and not isinstance(parsed.get("image_key"), str):
        return "image content needs image_key"
    elif msg_type in ("file", "audio", "media") and not isinstance(parsed.get("file_key"), str):
        return f"{msg_type} content needs file_key"
    return None


def is_v2(card: dict) -> bool:
    return card.get("schema") == "2.0"


def is_template(card: dict) -> bool:
    return card.get("type") == "template"


def is_shared(card: dict) -> bool:
    """Shared ("update_multi") cards are the only ones PATCH may touch; 2.0 cards always are."""
    if is_v2(card):
        return True
    config = card.get("config")
    return isinstance(config, dict) and config.get("update_multi") is True


def card_problems(card: Any, validator: CardValidator | None = None) -> list[str]:
    """Structural checks for a card; `validator` (cards.schema.validate_card) runs on 2.0 cards."""
    if not isinstance(card, dict):
        return ["card must be a JSON object"]
    if is_template(card):
        data = card.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("template_id"), str):
            return ["template card needs data.template_id"]
        return []
    problems: list[str] = []
    schema = card.get("schema")
    config = card.get("config")
    if config is not None and not isinstance(config, dict):
        problems.append("config must be an object")
    if schema == "2.0":
        body = card.get("body")
        if not isinstance(body, dict):
            problems.append("schema 2.0 card needs a 'body' object")
        elif not isinstance(body.get("elements"), list):
            problems.append("schema 2.0 card needs body.elements (a list)")
        if "elements" in card:
            problems.append(
                "schema 2.0 card must put elements under body.elements, not at top level"
            )
        if isinstance(config, dict) and config.get("update_multi") is False:
            problems.append("schema 2.0 cards only support config.update_multi = true")
        if not problems and validator is not None:
            try:
                problems.extend(str(p) for p in validator(card))
            except Exception as exc:  # a validator bug must not look like a valid card
                problems.append(f"card validator raised {type(exc).__name__}: {exc}")
    elif schema is not None:
        problems.append(f"unsupported card schema {schema!r} (use '2.0' or omit it for 1.0)")
    else:
        if "body" in card:
            problems.append('card has \'body\' but no "schema": "2.0"')
        elements = card.get("elements")
        i18n = card.get("i18n_elements")
        if elements is None and i18n is None:
            problems.append('card JSON 1.0 needs \'elements\' (or declare "schema": "2.0")')
        elif elements is not None and not isinstance(elements, list):
            problems.append("elements must be a list")
        elif i18n is not None and not isinstance(i18n, dict):
            problems.append("i18n_elements must be an object")
    return problems


def load_default_validator() -> CardValidator | None:
    """`cards.schema.validate_card` if that module is importable, else None."""
    try:
        from cards.schema import validate_card
    except ImportError:
        return None
    return validate_card
