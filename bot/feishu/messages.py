"""Reading messages back from Feishu (`GET /open-apis/im/v1/messages/{message_id}`):
a merged forward (合并转发) arrives as a placeholder, and its messages are the sub-messages
this call returns (`upper_message_id` = the forward). Needs the `im:message:readonly` (or
`im:message`) scope; without it Feishu answers an error and the caller does without."""

from __future__ import annotations

from dataclasses import dataclass

from bot.feishu.gateway import FeishuGateway
from bot.feishu.sdk import load as load_sdk

MAX_PARTS = 50  # a merged forward's messages read at most (the rest are not needed)


@dataclass(frozen=True)
class ForwardedPart:
    """One message inside a merged forward: who wrote it and its content, undecoded."""

    sender_open_id: str | None  # None: an app, or an id type we do not map
    msg_type: str
    content: str  # the JSON string Feishu holds (text, post, …)


class MessageReader:
    def __init__(self, gateway: FeishuGateway) -> None:
        self.gateway = gateway

    async def merged(self, message_id: str) -> list[ForwardedPart]:
        """The messages of the merged forward `message_id`, oldest first ([] when it has
        none). Raises `FeishuError` when Feishu refuses (scope, not found, outage)."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.im.v1 import GetMessageRequest

        req = GetMessageRequest.builder().message_id(message_id).user_id_type("open_id").build()
        resp = await self.gateway.call(
            lambda o: self.gateway.client.im.v1.message.aget(req, o), what="message.get"
        )
        parts = []
        for item in (resp.data.items if resp.data else None) or []:
            if item.upper_message_id != message_id or item.deleted:
                continue  # the forward itself (its placeholder), or a withdrawn message
            sender = item.sender
            open_id = sender.id if sender and sender.id_type == "open_id" else None
            body = item.body.content if item.body and item.body.content else ""
            parts.append(ForwardedPart(open_id, item.msg_type or "", body))
            if len(parts) == MAX_PARTS:
                break
        return parts
