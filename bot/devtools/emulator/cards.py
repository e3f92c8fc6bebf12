"""The cards API: PATCH of a sent card (shared cards only, 14 days, 5/s per message) and the
delayed update (`interactive/v1/card/update`) with a callback token (30 min, 2 uses)."""

from __future__ import annotations

import json
import secrets

from bot.devtools.emulator import content as cc
from bot.devtools.emulator.checks import ContentRules
from bot.devtools.emulator.limits import RateLimits
from bot.devtools.emulator.model import (
    ApiError,
    CallbackToken,
    MessageUpdate,
    Reply,
    Request,
    Route,
    Store,
    ok,
)

PATCH_WINDOW = 14 * 86400.0
CALLBACK_TOKEN_TTL = 30 * 60.0
CALLBACK_TOKEN_USES = 2


class CardsApi:
    def __init__(self, store: Store, limits: RateLimits, rules: ContentRules) -> None:
        self.store = store
        self.limits = limits
        self.rules = rules

    def routes(self) -> list[Route]:
        return [
            (
                "PATCH",
                "/open-apis/im/v1/messages/{message_id}",
                "im.message.patch",
                self.h_patch,
                True,
            ),
            (
                "POST",
                "/open-apis/interactive/v1/card/update",
                "card.update",
                self.h_card_update,
                True,
            ),
        ]

    def issue_callback_token(self, message_id: str) -> str:
        if message_id not in self.store.by_id:
            raise KeyError(f"unknown message id {message_id!r}")
        token = "c-" + secrets.token_hex(20)
        self.store.callback_tokens[token] = CallbackToken(
            message_id, self.store.now() + CALLBACK_TOKEN_TTL, CALLBACK_TOKEN_USES
        )
        return token

    def h_patch(self, req: Request) -> Reply:
        store = self.store
        msg = store.get_message(req.match["message_id"])
        body = req.body()
        if msg.incoming:
            raise ApiError(400, 230001, "invalid param: the message was not sent by this app")
        if msg.msg_type != "interactive":
            raise ApiError(
                400,
                230001,
                f"invalid param: only interactive (card) messages can be patched, "
                f"{msg.message_id} is {msg.msg_type!r}",
            )
        if store.now() - msg.create_time > PATCH_WINDOW:
            raise ApiError(
                400, 230031, "Message can only be modified within 14 days after sending."
            )
        previous = msg.card or {}
        card = self.rules.check_content("interactive", body.get("content"), previous)
        for which, c in (("sent", previous), ("new", card)):
            if not cc.is_template(c) and not cc.is_shared(c):
                raise ApiError(
                    400,
                    230001,
                    f"invalid param: the {which} card is not a shared card (declare "
                    '"config": {"update_multi": true} before and after, or use schema 2.0)',
                )
        self.limits.check_patch(msg.message_id)
        msg.updates.append(MessageUpdate("patch", card, store.now()))
        store.changed.notify_all()
        return ok({})

    def h_card_update(self, req: Request) -> Reply:
        store = self.store
        body = req.body()
        token = body.get("token")
        card = body.get("card")
        if not isinstance(token, str) or not token:
            raise ApiError(400, 230001, "invalid param: token is required")
        if not isinstance(card, dict):
            raise ApiError(400, 230001, "invalid param: card must be an object")
        entry = store.callback_tokens.get(token)
        if entry is None:
            raise ApiError(400, 230001, "invalid param: card update token is invalid")
        if store.now() > entry.expires:
            raise ApiError(400, 230001, "invalid param: card update token expired (30 min)")
        if entry.uses_left <= 0:
            raise ApiError(400, 230001, "invalid param: card update token used up (2 uses)")
        msg = store.get_message(entry.message_id)
        size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
        if size > cc.CARD_MAX_BYTES:
            raise ApiError(
                400,
                230025,
                f"The length of the message content reaches its limit: {size} bytes > "
                f"{cc.CARD_MAX_BYTES}",
            )
        stored = {k: v for k, v in card.items() if k != "open_ids"}
        self.rules.check_card(stored, msg.card)
        entry.uses_left -= 1
        msg.updates.append(MessageUpdate("card.update", stored, store.now(), token))
        store.changed.notify_all()
        return ok({})
