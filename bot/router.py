"""Intents (what a chat message asks for) and the registry that maps them to handlers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Intent:
    name: str  # "help" | "due" | "whoami" | "unknown"
    lang: str  # "zh" | "en"
    scope: str = "all"  # for "due": "all" | "week" | "overdue"


# Checked in order; the first keyword that occurs in the message wins.
_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("whoami", "all", ("我是谁", "我的角色", "whoami", "who am i", "my role")),
    ("help", "all", ("帮助", "怎么用", "使用说明", "菜单", "help", "menu", "commands", "/start")),
    ("due", "overdue", ("逾期", "超期", "过期", "overdue", "late")),
    ("due", "week", ("本周", "这周", "今天", "今日", "this week", "today")),
    (
        "due",
        "all",
        (
            "待办",
            "我的任务",
            "任务",
            "到期",
            "截止",
            "what's due",
            "whats due",
            "what is due",
            "todo",
            "to-do",
            "to do",
            "due",
            "tasks",
            "my tasks",
        ),
    ),
)


def normalise(text: str) -> str:
    """Lower-case, full-width to half-width, curly quotes straight, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip(" .!?。！？,，")


def detect_lang(text: str) -> str:
    return "zh" if CJK.search(text) else "en"


def match_intent(text: str) -> Intent:
    """Map a message to an intent; forgiving of phrasing, Chinese or English."""
    norm = normalise(text)
    lang = detect_lang(norm)
    if not norm or norm in ("?", "/"):
        return Intent("help", lang)
    for name, scope, keywords in _RULES:
        for word in keywords:
            if word.isascii():
                if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", norm):
                    return Intent(name, lang, scope)
            elif word in norm:
                return Intent(name, lang, scope)
    return Intent("unknown", lang)


MessageHandler = Callable[..., Awaitable[None]]
ActionHandler = Callable[..., Awaitable[dict]]


class Router:
    """First registration wins; message handlers by intent name, card actions by value["a"]."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: dict[str, MessageHandler] = {}
        self.actions: dict[str, ActionHandler] = {}

    def message(self, intent: str) -> Callable[[MessageHandler], MessageHandler]:
        def register(fn: MessageHandler) -> MessageHandler:
            self.messages.setdefault(intent, fn)
            return fn

        return register

    def action(self, name: str) -> Callable[[ActionHandler], ActionHandler]:
        def register(fn: ActionHandler) -> ActionHandler:
            self.actions.setdefault(name, fn)
            return fn

        return register

    def include(self, *routers: Router) -> Router:
        for router in routers:
            for k, v in router.messages.items():
                self.messages.setdefault(k, v)
            for k, v in router.actions.items():
                self.actions.setdefault(k, v)
        return self

    def message_handler(self, intent: str) -> MessageHandler | None:
        return self.messages.get(intent) or self.messages.get("unknown")

    def action_handler(self, value: dict[str, Any]) -> ActionHandler | None:
        name = value.get("a")
        return self.actions.get(name) if isinstance(name, str) else None
