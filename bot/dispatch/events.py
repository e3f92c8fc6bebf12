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


class PayloadError(ValueError):
    """A verified payload that does not have the shape Feishu documents."""


MAX_MENTIONS = 100  # Feishu caps @-mentions per message far lower; more is not a real message
MAX_VALUE_DEPTH = 4  # card values and form values are flat objects with short lists
MAX_VALUE_ITEMS = 200
MENTION_KEY = re.compile(r"@_user_\d+")


def _bounded(obj: Any, depth: int = 0) -> bool:
    """JSON data no deeper than MAX_VALUE_DEPTH and no wider than MAX_VALUE_ITEMS, so
    nothing downstream (str(), repr(), comparisons) can recurse or loop on it."""
    if isinstance(obj, dict | list):
        if depth >= MAX_VALUE_DEPTH or len(obj) > MAX_VALUE_ITEMS:
            return False
        items = obj.values() if isinstance(obj, dict) else obj
        return all(_bounded(item, depth + 1) for item in items)
    return obj is None or isinstance(obj, str | int | float | bool)


def _post_text(content: dict) -> str:
    # Received posts have no locale wrapper: {"title": …, "content": [[{tag, text}, …], …]}
    body = content.get("content")
    if not isinstance(body, list) and isinstance(content.get("zh_cn"), dict):
        body = content["zh_cn"].get("content")
    lines = []
    for paragraph in body if isinstance(body, list) else []:
        parts = []
        for node in paragraph if isinstance(paragraph, list) else []:
            if not isinstance(node, dict):
                continue
            if node.get("tag") in ("text", "a", "md") and isinstance(node.get("text"), str):
                parts.append(node["text"])
            elif node.get("tag") == "at" and isinstance(node.get("user_id"), str):
                parts.append(node["user_id"])
        lines.append("".join(parts))
    title = content.get("title")
    return "\n".join(([title] if isinstance(title, str) and title else []) + lines)


def content_text(message_type: str, raw_content: str) -> str:
    """The text of a text or post message's content string ("" for other types, and for
    content that is not what its type says: a message read back, not an event to refuse)."""
    try:
        content = json.loads(raw_content or "{}")
    except (ValueError, RecursionError):
        return ""
    if not isinstance(content, dict):
        return ""
    if message_type == "text":
        text = content.get("text", "")
        return text if isinstance(text, str) else ""
    return _post_text(content) if message_type == "post" else ""


def _str(obj: Any, *keys: str) -> str:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(obj, str):
        raise PayloadError(f"missing {'.'.join(keys)}")
    return obj


def _opt_str(obj: dict, key: str) -> str:
    """An optional string field: absent or null is "", any other type is an error."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{key} is not a string")
    return value


def message_event(payload: dict, bot_open_id: str | None) -> MessageEvent:
    """Build a MessageEvent from an `im.message.receive_v1` payload."""
    event = payload.get("event") or {}
    message = event.get("message")
    if not isinstance(message, dict):
        raise PayloadError("missing event.message")
    message_type = _str(message, "message_type")
    raw_content = message.get("content")
    if raw_content is not None and not isinstance(raw_content, str):
        raise PayloadError("event.message.content is not a string")
    try:
        content = json.loads(raw_content or "{}")
    except (ValueError, RecursionError) as exc:
        if message_type in ("text", "post"):
            raise PayloadError("event.message.content is not JSON") from exc
        # other types may carry a bare placeholder (a merged forward's "Merged and
        # Forwarded Message"): the type is what handlers go by
        content = {}
    content = content if isinstance(content, dict) else {}
    if message_type == "text":
        text = content.get("text", "")
        if not isinstance(text, str):
            raise PayloadError("text content is not a string")
    elif message_type == "post":
        text = _post_text(content)
    else:
        text = ""

    raw_mentions = message.get("mentions")
    if raw_mentions is None:
        raw_mentions = []
    if not isinstance(raw_mentions, list):
        raise PayloadError("event.message.mentions is not a list")
    if len(raw_mentions) > MAX_MENTIONS:
        raise PayloadError(f"more than {MAX_MENTIONS} mentions")
    mentions = []
    for raw in raw_mentions:
        if not isinstance(raw, dict):
            raise PayloadError("a mention is not an object")
        key, ids, name = raw.get("key"), raw.get("id"), raw.get("name")
        ids = ids if isinstance(ids, dict) else {}
        open_id = ids.get("open_id")
        mentions.append(
            Mention(
                key if isinstance(key, str) else "",
                open_id if isinstance(open_id, str) else "",
                name[:100] if isinstance(name, str) else "",
            )
        )
    mentions_bot = any(bot_open_id and m.open_id == bot_open_id for m in mentions)
    if bot_open_id is None:
        # Bot id unknown (no credentials yet): in groups Feishu only delivers messages that
        # @-mention the bot unless the sensitive group_msg scope is granted.
        mentions_bot = bool(mentions)
    # One pass over the text: a name that contains "@_user_2" is never replaced again, and
    # the work is linear in the text whatever the mentions say.
    shown = {
        m.key: "" if (m.open_id == bot_open_id if bot_open_id else True) else f"@{m.name}"
        for m in reversed(mentions)  # the first mention of a key wins
        if MENTION_KEY.fullmatch(m.key)  # an empty or odd key can never occur in the text
    }
    text = MENTION_KEY.sub(lambda hit: shown.get(hit.group(), ""), text)
    text = re.sub(r"[ \t\u3000]+", " ", text).strip()

    return MessageEvent(
        event_id=_str(payload, "header", "event_id"),
        message_id=_str(message, "message_id"),
        chat_id=_str(message, "chat_id"),
        chat_type=_str(message, "chat_type") if "chat_type" in message else "p2p",
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
    if not _bounded(value) or not _bounded(form_value):
        raise PayloadError("event.action value or form_value is too deep or too large")
    context = event.get("context") if isinstance(event.get("context"), dict) else {}
    return CardActionEvent(
        event_id=_str(payload, "header", "event_id"),
        operator_open_id=_str(event, "operator", "open_id"),
        value=value if isinstance(value, dict) else {},
        form_value=form_value if isinstance(form_value, dict) else {},
        action_name=_opt_str(action, "name"),
        open_message_id=_opt_str(context, "open_message_id"),
        open_chat_id=_opt_str(context, "open_chat_id"),
        token=_opt_str(event, "token"),
    )


@dataclass(frozen=True)
class BotAddedEvent:
    """`im.chat.member.bot.added_v1`: the bot was added to a group."""

    event_id: str
    chat_id: str
    chat_name: str
    operator_open_id: str


def bot_added_event(payload: dict) -> BotAddedEvent:
    event = payload.get("event") or {}
    operator = event.get("operator_id")
    return BotAddedEvent(
        event_id=_str(payload, "header", "event_id"),
        chat_id=_str(event, "chat_id"),
        chat_name=_opt_str(event, "name"),
        operator_open_id=_opt_str(operator, "open_id") if isinstance(operator, dict) else "",
    )


@dataclass(frozen=True)
class MenuEvent:
    """`application.bot.menu_v6`: someone chose an item of the bot's menu (set up in the
    developer console; `event_key` is the item's key)."""

    event_id: str
    operator_open_id: str
    event_key: str


MAX_MENU_KEY = 100


def menu_event(payload: dict) -> MenuEvent:
    event = payload.get("event") or {}
    operator = _str(event, "operator", "operator_id", "open_id")
    key = event.get("event_key")
    if not operator:
        raise PayloadError("menu event without event.operator.operator_id.open_id")
    if not isinstance(key, str) or len(key) > MAX_MENU_KEY:
        raise PayloadError("menu event without a short event.event_key")
    return MenuEvent(_str(payload, "header", "event_id"), operator, key.strip())


# Event types other than messages and card clicks, each with the builder of its typed event.
EVENT_BUILDERS: dict[str, Callable[[dict], Any]] = {
    "im.chat.member.bot.added_v1": bot_added_event,
    "application.bot.menu_v6": menu_event,
}


def typed_event(event_type: str, payload: dict) -> Any:
    """The typed event for a stored payload; PayloadError when it has the wrong shape,
    None when DutyBot has no use for this event type."""
    build = EVENT_BUILDERS.get(event_type)
    return build(payload) if build else None


@dataclass(frozen=True)
class ChatEnteredEvent:
    """`im.chat.access_event.bot_p2p_chat_entered_v1`: a person opened their private chat
    with the bot."""

    event_id: str
    chat_id: str
    operator_open_id: str


def chat_entered_event(payload: dict) -> ChatEnteredEvent:
    event = payload.get("event") or {}
    operator = event.get("operator_id")
    return ChatEnteredEvent(
        event_id=_str(payload, "header", "event_id"),
        chat_id=_str(event, "chat_id"),
        operator_open_id=_str(operator, "open_id"),
    )


EVENT_BUILDERS["im.chat.access_event.bot_p2p_chat_entered_v1"] = chat_entered_event


@dataclass(frozen=True)
class ContactUserEvent:
    """`contact.user.deleted_v3` (someone left the company) or `contact.user.updated_v3`
    (someone's directory entry changed; `resigned` when `status.is_resigned` is true)."""

    event_id: str
    open_id: str
    name: str
    resigned: bool
    deleted: bool = False


MAX_OPEN_ID = 64


def _user_object(event: dict, key: str) -> dict:
    obj = event.get(key)
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise PayloadError(f"event.{key} is not an object")
    return obj


def _open_id(obj: dict, fallback: dict) -> str:
    open_id = obj.get("open_id") or fallback.get("open_id")
    if not isinstance(open_id, str) or not open_id.strip() or len(open_id) > MAX_OPEN_ID:
        raise PayloadError("contact event without a short event.object.open_id")
    return open_id.strip()


def _resigned(obj: dict) -> bool:
    status = obj.get("status")
    if status is None:
        return False
    if not isinstance(status, dict):
        raise PayloadError("event.object.status is not an object")
    flag = status.get("is_resigned")
    if flag is not None and not isinstance(flag, bool):
        raise PayloadError("event.object.status.is_resigned is not a boolean")
    return flag is True


def contact_user_deleted_event(payload: dict) -> ContactUserEvent:
    """`contact.user.deleted_v3`: event.object is the user as they were (open_id, name,
    status, …); event.old_object holds their open_id and departments."""
    event = payload.get("event")
    if not isinstance(event, dict):
        raise PayloadError("missing event")
    obj, old = _user_object(event, "object"), _user_object(event, "old_object")
    name = _opt_str(obj, "name")
    return ContactUserEvent(
        event_id=_str(payload, "header", "event_id"),
        open_id=_open_id(obj, old),
        name=name[:100],
        resigned=True,
        deleted=True,
    )


def contact_user_updated_event(payload: dict) -> ContactUserEvent:
    """`contact.user.updated_v3`: event.object is the user now, event.old_object the
    fields that changed (as they were)."""
    event = payload.get("event")
    if not isinstance(event, dict):
        raise PayloadError("missing event")
    obj = _user_object(event, "object")
    _user_object(event, "old_object")  # shape check only
    if not obj:
        raise PayloadError("missing event.object")
    return ContactUserEvent(
        event_id=_str(payload, "header", "event_id"),
        open_id=_open_id(obj, {}),
        name=_opt_str(obj, "name")[:100],
        resigned=_resigned(obj),
    )


EVENT_BUILDERS["contact.user.deleted_v3"] = contact_user_deleted_event
EVENT_BUILDERS["contact.user.updated_v3"] = contact_user_updated_event


@dataclass(frozen=True)
class FeishuTaskEvent:
    """A task in Feishu Tasks changed: `task.task.update_user_access_v2` (event.task_guid,
    event.event_types such as "task_completed_update", "task_deleted") or the older
    `task.task.updated_v1` (event.task_id, event.obj_type: 5 completed, 6 reopened,
    7 deleted), which Feishu sends for tasks the app created. Neither says who changed
    what: the handler reads the task back before acting on it."""

    event_id: str
    guid: str
    changes: tuple[str, ...]


MAX_GUID = 64
V1_CHANGES = {
    1: "task_summary_update",
    2: "task_assignees_update",
    3: "task_followers_update",
    4: "task_reminders_update",
    5: "task_completed_update",
    6: "task_completed_update",
    7: "task_deleted",
}


def _guid(event: dict, key: str) -> str:
    guid = event.get(key)
    if not isinstance(guid, str) or not guid.strip() or len(guid) > MAX_GUID:
        raise PayloadError(f"task event without a short event.{key}")
    return guid.strip()


def feishu_task_event(payload: dict) -> FeishuTaskEvent:
    event = payload.get("event")
    if not isinstance(event, dict):
        raise PayloadError("missing event")
    kinds = event.get("event_types") or []
    if not isinstance(kinds, list) or not all(isinstance(k, str) and len(k) < 64 for k in kinds):
        raise PayloadError("event.event_types is not a list of names")
    return FeishuTaskEvent(
        event_id=_str(payload, "header", "event_id"),
        guid=_guid(event, "task_guid"),
        changes=tuple(kinds[:20]),
    )


def feishu_task_v1_event(payload: dict) -> FeishuTaskEvent:
    event = payload.get("event")
    if not isinstance(event, dict):
        raise PayloadError("missing event")
    kind = event.get("obj_type")
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise PayloadError("event.obj_type is not a number")
    return FeishuTaskEvent(
        event_id=_str(payload, "header", "event_id"),
        guid=_guid(event, "task_id"),
        changes=(V1_CHANGES.get(kind, f"obj_type_{kind}"),),
    )


EVENT_BUILDERS["task.task.update_user_access_v2"] = feishu_task_event
EVENT_BUILDERS["task.task.updated_v1"] = feishu_task_v1_event
