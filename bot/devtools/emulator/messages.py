"""The messages API: send (`POST im/v1/messages`) and reply, with uuid de-duplication
(1 hour), receive-id checks and the per-receiver limit; plus the users' own messages that
tests register so the bot can reply to them."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from bot.devtools.emulator import content as cc
from bot.devtools.emulator.checks import ContentRules, check_uuid
from bot.devtools.emulator.limits import RateLimits
from bot.devtools.emulator.model import (
    ApiError,
    AppConfig,
    Reply,
    Request,
    Route,
    Store,
    StoredMessage,
    ok,
)

UUID_WINDOW = 3600.0


class MessagesApi:
    def __init__(
        self, store: Store, config: AppConfig, limits: RateLimits, rules: ContentRules
    ) -> None:
        self.store = store
        self.config = config
        self.limits = limits
        self.rules = rules

    def routes(self) -> list[Route]:
        return [
            ("POST", "/open-apis/im/v1/messages", "im.message.create", self.h_create, True),
            (
                "POST",
                "/open-apis/im/v1/messages/{message_id}/reply",
                "im.message.reply",
                self.h_reply,
                True,
            ),
            ("GET", "/open-apis/im/v1/messages/{message_id}", "im.message.get", self.h_get, True),
        ]

    # ------------------------------------------------------------- wire format

    def message_data(self, msg: StoredMessage, upper: str | None = None) -> dict:
        ms = str(int(msg.create_time * 1000))
        sender = (
            {"id": msg.sender_open_id, "id_type": "open_id", "sender_type": "user"}
            if msg.sender_open_id
            else {"id": self.config.app_id, "id_type": "app_id", "sender_type": "app"}
        )
        data = {
            "message_id": msg.message_id,
            "msg_type": msg.msg_type,
            "create_time": ms,
            "update_time": ms,
            "deleted": False,
            "updated": False,
            "chat_id": msg.chat_id,
            "sender": {**sender, "tenant_key": self.config.tenant_key},
            "body": {"content": msg.raw_content},
        }
        if msg.parent_id:
            data["parent_id"] = msg.parent_id
            data["root_id"] = msg.root_id
        if upper:  # one of a merged forward's messages
            data["upper_message_id"] = upper
        if msg.thread_id:
            data["thread_id"] = msg.thread_id
        return data

    def chat_for(self, receive_id_type: str, receive_id: str) -> str:
        if receive_id_type == "chat_id":
            return receive_id
        if receive_id_type == "open_id" and receive_id in self.store.p2p_chats:
            return self.store.p2p_chats[receive_id]
        digest = hashlib.sha1(f"{receive_id_type}:{receive_id}".encode()).hexdigest()
        return "oc_" + digest[:32]

    def uuid_hit(self, uuid: str | None) -> StoredMessage | None:
        if uuid is None:
            return None
        hit = self.store.uuids.get(uuid)
        if hit is None:
            return None
        message_id, at = hit
        if self.store.now() - at >= UUID_WINDOW or message_id not in self.store.by_id:
            del self.store.uuids[uuid]
            return None
        self.store.stats["uuid_hits"] += 1
        return self.store.by_id[message_id]

    # ---------------------------------------------------------------- handlers

    def h_create(self, req: Request) -> Reply:
        rit = req.query.get("receive_id_type")
        if not rit:
            raise ApiError(400, 230001, "invalid param: receive_id_type is required")
        if rit not in cc.RECEIVE_ID_TYPES:
            raise ApiError(400, 230001, f"invalid param: unknown receive_id_type {rit!r}")
        body = req.body()
        receive_id = body.get("receive_id")
        if not isinstance(receive_id, str) or not receive_id:
            raise ApiError(400, 230001, "invalid param: receive_id is required")
        if self.config.strict_ids:
            problem = cc.receive_id_problem(rit, receive_id)
            if problem:
                raise ApiError(400, 230001, f"invalid param: {problem}")
        msg_type = body.get("msg_type")
        parsed = self.rules.check_content(msg_type, body.get("content"))
        uuid = check_uuid(body.get("uuid"))
        existing = self.uuid_hit(uuid)
        if existing is not None:
            return ok(self.message_data(existing))
        chat_id = self.chat_for(rit, receive_id)
        self.limits.check_receiver(chat_id)
        msg = StoredMessage(
            message_id="om_" + secrets.token_hex(16),
            chat_id=chat_id,
            receive_id=receive_id,
            receive_id_type=rit,
            msg_type=msg_type,
            content=parsed,
            raw_content=body["content"],
            uuid=uuid,
            create_time=self.store.now(),
        )
        self.store.store(msg)
        return ok(self.message_data(msg))

    def h_reply(self, req: Request) -> Reply:
        parent = self.store.get_message(req.match["message_id"])
        body = req.body()
        msg_type = body.get("msg_type")
        parsed = self.rules.check_content(msg_type, body.get("content"))
        uuid = check_uuid(body.get("uuid"))
        in_thread = body.get("reply_in_thread", False)
        if not isinstance(in_thread, bool):
            raise ApiError(400, 230001, "invalid param: reply_in_thread must be a boolean")
        existing = self.uuid_hit(uuid)
        if existing is not None:
            return ok(self.message_data(existing))
        self.limits.check_receiver(parent.chat_id)
        if in_thread and parent.thread_id is None:
            parent.thread_id = "omt_" + secrets.token_hex(8)
        msg = StoredMessage(
            message_id="om_" + secrets.token_hex(16),
            chat_id=parent.chat_id,
            receive_id=parent.receive_id,
            receive_id_type=parent.receive_id_type,
            msg_type=msg_type,
            content=parsed,
            raw_content=body["content"],
            uuid=uuid,
            create_time=self.store.now(),
            api="im.message.reply",
            parent_id=parent.message_id,
            root_id=parent.root_id or parent.message_id,
            thread_id=parent.thread_id,
            reply_in_thread=in_thread,
        )
        self.store.store(msg)
        return ok(self.message_data(msg))

    def h_get(self, req: Request) -> Reply:
        """A message; a merged forward's comes with its messages (`items`, the forward
        first, then each message with `upper_message_id` = the forward), as Feishu does."""
        msg = self.store.get_message(req.match["message_id"])
        subs = self.store.forwarded.get(msg.message_id, [])
        items = [self.message_data(msg)] + [self.message_data(m, msg.message_id) for m in subs]
        return ok({"items": items})

    # ------------------------------------------------------- users' messages

    def add_forwarded(self, message_id: str, parts: list[tuple[str, str, Any]]) -> None:
        """The messages inside the merged forward `message_id`: (sender open_id, msg_type,
        content dict) each, oldest first."""
        forward = self.store.get_message(message_id)
        self.store.forwarded[message_id] = [
            StoredMessage(
                message_id="om_" + secrets.token_hex(16),
                chat_id="oc_" + secrets.token_hex(16),  # the chat it was forwarded from
                receive_id=sender,
                receive_id_type="open_id",
                msg_type=msg_type,
                content=content,
                raw_content=json.dumps(content, ensure_ascii=False),
                uuid=None,
                create_time=forward.create_time - len(parts) + i,
                api="incoming",
                sender_open_id=sender,
            )
            for i, (sender, msg_type, content) in enumerate(parts)
        ]

    def add_incoming(
        self,
        message_id: str | None,
        *,
        chat_id: str,
        sender_open_id: str,
        chat_type: str,
        msg_type: str,
        content: Any,
    ) -> str:
        mid = message_id or "om_" + secrets.token_hex(16)
        p2p = chat_type == "p2p"
        if p2p:
            self.store.p2p_chats[sender_open_id] = chat_id
        parsed = content if content is not None else {}
        self.store.by_id[mid] = StoredMessage(
            message_id=mid,
            chat_id=chat_id,
            receive_id=sender_open_id if p2p else chat_id,
            receive_id_type="open_id" if p2p else "chat_id",
            msg_type=msg_type,
            content=parsed,
            raw_content=json.dumps(parsed, ensure_ascii=False),
            uuid=None,
            create_time=self.store.now(),
            api="incoming",
            sender_open_id=sender_open_id,
        )
        return mid
