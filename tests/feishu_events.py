"""Build real-format Feishu webhook requests: v2 envelopes, AES-encrypted and signed."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from bot.transport.crypto import encrypt, signature

APP_ID = "cli_test"
APP_SECRET = "secret_test"
VERIFICATION_TOKEN = "vtoken_test"
ENCRYPT_KEY = "ekey_test"
BOT_OPEN_ID = "ou_bot"


def _ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def envelope(
    event_type: str,
    event: dict,
    at: datetime,
    *,
    event_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
) -> dict:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id or secrets.token_hex(16),
            "token": token,
            "create_time": _ms(at),
            "event_type": event_type,
            "tenant_key": "tenant_test",
            "app_id": APP_ID,
        },
        "event": event,
    }


def message(
    text: str,
    sender: str,
    at: datetime,
    *,
    chat_type: str = "p2p",
    chat_id: str | None = None,
    message_id: str | None = None,
    mentions: list[dict] | None = None,
    event_id: str | None = None,
    message_type: str = "text",
    content: dict | None = None,
) -> dict:
    """An im.message.receive_v1 envelope."""
    chat_id = chat_id or (f"oc_p2p_{sender}" if chat_type == "p2p" else "oc_team")
    return envelope(
        "im.message.receive_v1",
        {
            "sender": {
                "sender_id": {"open_id": sender, "union_id": f"on_{sender}", "user_id": None},
                "sender_type": "user",
                "tenant_key": "tenant_test",
            },
            "message": {
                "message_id": message_id or f"om_{secrets.token_hex(12)}",
                "create_time": _ms(at),
                "chat_id": chat_id,
                "chat_type": chat_type,
                "message_type": message_type,
                "content": json.dumps(
                    content if content is not None else {"text": text}, ensure_ascii=False
                ),
                "mentions": mentions or [],
            },
        },
        at,
        event_id=event_id,
    )


def bot_mention(key: str = "@_user_1") -> dict:
    return {
        "key": key,
        "id": {"open_id": BOT_OPEN_ID, "union_id": "on_bot"},
        "name": "DutyBot",
        "tenant_key": "tenant_test",
    }


def card_action(
    operator: str,
    value: dict,
    at: datetime,
    *,
    message_id: str = "om_card",
    chat_id: str = "oc_team",
    form_value: dict | None = None,
    name: str = "",
    token: str = "c-token",
    event_id: str | None = None,
) -> dict:
    action = {"value": value, "tag": "button", "name": name, "timezone": "Asia/Shanghai"}
    if form_value is not None:
        action["form_value"] = form_value
    return envelope(
        "card.action.trigger",
        {
            "operator": {
                "tenant_key": "tenant_test",
                "open_id": operator,
                "union_id": f"on_{operator}",
            },
            "token": token,
            "action": action,
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": chat_id},
        },
        at,
        event_id=event_id,
    )


def _sent_at(payload: dict | bytes) -> str:
    """Seconds since the epoch of the event's own create_time (header, else message)."""
    if isinstance(payload, dict):
        header = payload.get("header") if isinstance(payload.get("header"), dict) else {}
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        for created in (header.get("create_time"), message.get("create_time")):
            if isinstance(created, str) and created.isdigit():
                return str(int(created) // 1000)
    return str(int(time.time()))


@dataclass
class SignedRequest:
    body: bytes
    headers: dict[str, str]


def sign(
    payload: dict | bytes,
    *,
    encrypt_key: str = ENCRYPT_KEY,
    timestamp: str | None = None,
    nonce: str | None = None,
    encrypted: bool = True,
) -> SignedRequest:
    """The body and headers Feishu would send for this payload. The timestamp defaults to
    the event's own create_time (Feishu signs when it sends)."""
    if timestamp is None:
        timestamp = _sent_at(payload)
    raw = (
        payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    )
    body = json.dumps({"encrypt": encrypt(encrypt_key, raw)}).encode() if encrypted else raw
    nonce = nonce or secrets.token_hex(8)
    return SignedRequest(
        body,
        {
            "Content-Type": "application/json",
            "X-Lark-Request-Timestamp": timestamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature(timestamp, nonce, encrypt_key, body),
        },
    )


def menu(event_key: str, operator: str, at: datetime, *, event_id: str | None = None) -> dict:
    """An application.bot.menu_v6 envelope: `operator` chose the bot-menu item `event_key`."""
    event = {
        "operator": {
            "operator_name": operator,
            "operator_id": {"open_id": operator, "union_id": "on_" + operator[3:]},
        },
        "event_key": event_key,
        "timestamp": int(at.timestamp() * 1000),
    }
    return envelope("application.bot.menu_v6", event, at, event_id=event_id)


def contact_user(open_id: str, name: str, *, resigned: bool = False) -> dict:
    """A directory user as contact events carry it (`event.object`)."""
    return {
        "open_id": open_id,
        "union_id": "on_" + open_id[3:],
        "user_id": open_id[3:],
        "name": name,
        "en_name": "",
        "email": "",
        "job_title": "",
        "gender": 0,
        "status": {
            "is_frozen": False,
            "is_resigned": resigned,
            "is_activated": not resigned,
            "is_exited": False,
            "is_unjoin": False,
        },
        "department_ids": ["od-marketing"],
        "leader_user_id": "",
        "join_time": 1700000000,
        "employee_type": 1,
    }


def user_deleted(open_id: str, name: str, at: datetime, *, event_id: str | None = None) -> dict:
    """A contact.user.deleted_v3 envelope: `open_id` left the company."""
    event = {
        "object": contact_user(open_id, name, resigned=True),
        "old_object": {"department_ids": ["od-marketing"], "open_id": open_id},
    }
    return envelope("contact.user.deleted_v3", event, at, event_id=event_id)


def user_resigned(open_id: str, name: str, at: datetime, *, event_id: str | None = None) -> dict:
    """A contact.user.updated_v3 envelope in which `status.is_resigned` became true."""
    old_status = contact_user(open_id, name)["status"]
    event = {
        "object": contact_user(open_id, name, resigned=True),
        "old_object": {"status": old_status, "open_id": open_id},
    }
    return envelope("contact.user.updated_v3", event, at, event_id=event_id)


def task_changed(
    guid: str, at: datetime, kinds: tuple[str, ...], *, event_id: str | None = None
) -> dict:
    """A task.task.update_user_access_v2 envelope: Feishu task `guid` changed (`kinds`
    such as "task_completed_update", "task_deleted")."""
    event = {
        "task_guid": guid,
        "event_types": list(kinds),
        "timestamp": _ms(at),
    }
    return envelope("task.task.update_user_access_v2", event, at, event_id=event_id)


def task_updated_v1(guid: str, obj_type: int, at: datetime, *, event_id: str | None = None) -> dict:
    """A task.task.updated_v1 envelope (5 completed, 6 reopened, 7 deleted)."""
    return envelope(
        "task.task.updated_v1", {"task_id": guid, "obj_type": obj_type}, at, event_id=event_id
    )
