"""Content, card and uuid checks that answer with Feishu's error codes (the problem texts
themselves come from the pure functions in `content`)."""

from __future__ import annotations

from typing import Any

from bot.devtools.emulator import content as cc
from bot.devtools.emulator.model import ApiError


class ContentRules:
    """`card_validator` is resolved on first use (cards.schema is imported lazily)."""

    def __init__(self, card_validator: Any, resolved: bool) -> None:
        self._validator: cc.CardValidator | None = card_validator if resolved else None
        self._resolved = resolved

    def validator(self) -> cc.CardValidator | None:
        if not self._resolved:
            self._validator = cc.load_default_validator()
            self._resolved = True
        return self._validator

    def check_card(self, card: Any, previous: dict | None = None) -> None:
        problems = cc.card_problems(card, self.validator())
        if problems:
            raise ApiError(
                400, 230099, "Failed to create card content, ext=ErrMsg: " + "; ".join(problems)
            )
        if (
            previous is not None
            and cc.is_v2(previous)
            and not cc.is_v2(card)
            and not cc.is_template(card)
        ):
            raise ApiError(
                400,
                230099,
                "Failed to create card content, ext=ErrMsg: a card JSON 2.0 "
                "cannot be replaced by a card JSON 1.0",
            )

    def check_content(self, msg_type: Any, content: Any, previous: dict | None = None) -> Any:
        """The parsed content of a send / reply / PATCH, or the error Feishu would answer."""
        if not isinstance(msg_type, str) or not msg_type:
            raise ApiError(400, 230001, "invalid param: msg_type is required")
        if msg_type not in cc.MSG_TYPES:
            raise ApiError(400, 230001, f"invalid param: unknown msg_type {msg_type!r}")
        if not isinstance(content, str):
            raise ApiError(400, 230001, "invalid param: content must be a JSON string")
        limit = cc.size_limit(msg_type)
        size = len(content.encode("utf-8"))
        if limit is not None and size > limit:
            raise ApiError(
                400,
                230025,
                f"The length of the message content reaches its limit: {size} bytes > {limit}",
            )
        parsed, problem = cc.parse_content(content)
        if problem is not None:
            if msg_type == "interactive":
                raise ApiError(400, 230099, f"Failed to create card content, ext=ErrMsg: {problem}")
            raise ApiError(400, 230001, f"invalid param: {problem}")
        if msg_type == "interactive":
            self.check_card(parsed, previous)
        else:
            problem = cc.content_problem(msg_type, parsed)
            if problem is not None:
                raise ApiError(400, 230001, f"invalid param: {problem}")
        return parsed


def check_uuid(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, 230001, "invalid param: uuid must be a string")
    if len(value) > cc.UUID_MAX_CHARS:
        raise ApiError(
            400, 230001, f"invalid param: uuid longer than {cc.UUID_MAX_CHARS} characters"
        )
    return value
