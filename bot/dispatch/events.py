"""Our own small event types. Transports build these from Feishu payloads; handlers never
see raw JSON or lark-oapi models."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mention:
    key: str  # "@_user_1"
    open_id: str
    name: str


@dataclass(frozen=True)
class MessageEvent:
    event_id: str
    message_id: str
    chat_id: str
    chat_type: str  # "p2p" | "group"
    sender_open_id: str
    message_type: str
    text: str  # mentions of the bot removed, other mentions as "@Name"
    mentions: tuple[Mention, ...] = ()
    mentions_bot: bool = False

    @property
    def is_group(self) -> bool:
        return self.chat_type != "p2p"


@dataclass(frozen=True)
class CardActionEvent:
    event_id: str
    operator_open_id: str
    value: dict[str, Any]
    form_value: dict[str, Any] = field(default_factory=dict)
    action_name: str = ""
    open_message_id: str = ""
    open_chat_id: str = ""
    token: str = ""  # the delayed-update credential (30 min, 2 uses)


@dataclass(frozen=True)
class BotAddedEvent:
    """`im.chat.member.bot.added_v1`: someone added the bot to a group."""

    event_id: str
    chat_id: str
    chat_name: str
    open_id: str  # who added the bot ("" when Feishu does not say)


@dataclass(frozen=True)
class ChatEnteredEvent:
    """`im.chat.access_event.bot_p2p_chat_entered_v1`: a person opened their private chat
    with the bot."""

    event_id: str
    chat_id: str
    open_id: str


class PayloadError(ValueError):
    """A verified payload that does not have the shape Feishu documents."""


def _post_text(content: dict) -> str:
    # Received posts have no locale wrapper: {"title": …, "content": [[{tag, text}, …], …]}
    body = content.get("content")
    if not isinstance(body, list) and isinstance(content.get("zh_cn"), dict):
        body = content["zh_cn"].get("content")
    lines = []
    for paragraph in body if isinstance(body, list) else []:
        parts = []
        for node in paragraph if isinstance(paragraph, list) else []:
            if isinstance(node, dict) and node.get("tag") in ("text", "a", "md"):
                parts.append(str(node.get("text", "")))
            elif isinstance(node, dict) and node.get("tag") == "at":
                parts.append(str(node.get("user_id", "")))
        lines.append("".join(parts))
    title = content.get("title")
    return "\n".join(([title] if isinstance(title, str) and title else []) + lines)


def _str(obj: Any, *keys: str) -> str:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(obj, str):
        raise PayloadError(f"missing {'.'.join(keys)}")
    return obj


def message_event(payload: dict, bot_open_id: str | None) -> MessageEvent:
    """Build a MessageEvent from an `im.message.receive_v1` payload."""
    event = payload.get("event") or {}
    message = event.get("message")
    if not isinstance(message, dict):
        raise PayloadError("missing event.message")
    message_type = _str(message, "message_type")
    try:
        content = json.loads(message.get("content") or "{}")
    except (TypeError, ValueError):
        content = {}
    content = content if isinstance(content, dict) else {}
    if message_type == "text":
        text = str(content.get("text", ""))
    elif message_type == "post":
        text = _post_text(content)
    else:
        text = ""

    mentions = []
    for raw in message.get("mentions") or []:
        if not isinstance(raw, dict):
            continue
        ids = raw.get("id") if isinstance(raw.get("id"), dict) else {}
        mentions.append(
            Mention(str(raw.get("key", "")), str(ids.get("open_id", "")), str(raw.get("name", "")))
        )
    mentions_bot = any(bot_open_id and m.open_id == bot_open_id for m in mentions)
    if bot_open_id is None:
        # Bot id unknown (no credentials yet): in groups Feishu only delivers messages that
        # @-mention the bot unless the sensitive group_msg scope is granted.
        mentions_bot = bool(mentions)
    for m in mentions:
        is_bot = m.open_id == bot_open_id if bot_open_id else True
        text = text.replace(m.key, "" if is_bot else f"@{m.name}")
    text = re.sub(r"@_user_\d+", "", text)
    text = re.sub(r"[ \t\u3000]+", " ", text).strip()

    return MessageEvent(
        event_id=_str(payload, "header", "event_id"),
        message_id=_str(message, "message_id"),
        chat_id=_str(message, "chat_id"),
        chat_type=str(message.get("chat_type") or "p2p"),
        sender_open_id=_str(event, "sender", "sender_id", "open_id"),
        message_type=message_type,
        text=text,
        mentions=tuple(mentions),
        mentions_bot=mentions_bot,
    )


def card_action_event(payload: dict) -> CardActionEvent:
    """Build a CardActionEvent from a `card.action.trigger` callback payload."""
    event = payload.get("event") or {}
    action = event.get("action")
    if not isinstance(action, dict):
        raise PayloadError("missing event.action")
    value = action.get("value")
    form_value = action.get("form_value")
    context = event.get("context") if isinstance(event.get("context"), dict) else {}
    return CardActionEvent(
        event_id=_str(payload, "header", "event_id"),
        operator_open_id=_str(event, "operator", "open_id"),
        value=value if isinstance(value, dict) else {},
        form_value=form_value if isinstance(form_value, dict) else {},
        action_name=str(action.get("name") or ""),
        open_message_id=str(context.get("open_message_id") or ""),
        open_chat_id=str(context.get("open_chat_id") or ""),
        token=str(event.get("token") or ""),
    )


def bot_added_event(payload: dict, bot_open_id: str | None = None) -> BotAddedEvent:
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    operator = event.get("operator_id") if isinstance(event.get("operator_id"), dict) else {}
    chat_id = _str(event, "chat_id")
    if not chat_id:
        raise PayloadError("empty chat_id")
    name = event.get("name")
    return BotAddedEvent(
        event_id=_str(payload, "header", "event_id"),
        chat_id=chat_id,
        chat_name=name[:200] if isinstance(name, str) and name else chat_id,
        open_id=str(operator.get("open_id") or ""),
    )


def chat_entered_event(payload: dict, bot_open_id: str | None = None) -> ChatEnteredEvent:
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    return ChatEnteredEvent(
        event_id=_str(payload, "header", "event_id"),
        chat_id=_str(event, "chat_id"),
        open_id=_str(event, "operator_id", "open_id"),
    )


# Stored event types and how to read them; a handler is registered per type in the router.
PARSERS: dict[str, Callable[[dict, str | None], Any]] = {
    "im.message.receive_v1": message_event,
    "im.chat.member.bot.added_v1": bot_added_event,
    "im.chat.access_event.bot_p2p_chat_entered_v1": chat_entered_event,
}
