"""Intents (what a chat message asks for) and the registry that maps them to handlers.

Each handler module owns its keywords: `@router.message("due", keywords=(...))`. The
root router matches a message against all registered keywords in registration order."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Intent:
    name: str  # e.g. "help", "due", "whoami", "unknown"
    lang: str  # "zh" | "en"
    scope: str = "all"  # a refinement chosen by the keyword, e.g. "overdue" for "due"
    text: str = ""  # the normalised message, for handlers that read arguments


@dataclass(frozen=True)
class Rule:
    intent: str
    scope: str
    keywords: tuple[str, ...]


def normalise(text: str) -> str:
    """Lower-case, full-width to half-width, curly quotes straight, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip(" .!?。！？,，")


def detect_lang(text: str) -> str:
    return "zh" if CJK.search(text) else "en"


@functools.lru_cache(maxsize=1024)
def _ascii_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pass for all of a rule's English words: whole words only ("due" must not match
    "produce"); an alternation tries every word at each position, so this is "any word"."""
    ascii_words = sorted((w for w in words if w.isascii()), key=len, reverse=True)
    if not ascii_words:
        return None
    return re.compile(rf"(?<![a-z])(?:{'|'.join(map(re.escape, ascii_words))})(?![a-z])")


def _matches_any(words: tuple[str, ...], norm: str) -> bool:
    if any(word in norm for word in words if not word.isascii()):
        return True
    pattern = _ascii_pattern(words)
    return pattern is not None and pattern.search(norm) is not None


MessageHandler = Callable[..., Awaitable[None]]
ActionHandler = Callable[..., Awaitable[dict]]


@dataclass
class Router:
    """First registration wins; message handlers by intent name, card actions by value["a"]."""

    name: str
    messages: dict[str, MessageHandler] = field(default_factory=dict)
    actions: dict[str, ActionHandler] = field(default_factory=dict)
    events: dict[str, MessageHandler] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)

    def message(
        self,
        intent: str,
        *,
        keywords: tuple[str, ...] = (),
        scopes: dict[str, tuple[str, ...]] | None = None,
    ) -> Callable[[MessageHandler], MessageHandler]:
        """Register a handler for an intent, with the keywords that select it. `scopes`
        maps a refinement to its own keywords and is checked before the plain keywords."""

        def register(fn: MessageHandler) -> MessageHandler:
            self.messages.setdefault(intent, fn)
            for scope, words in (scopes or {}).items():
                self.rules.append(Rule(intent, scope, words))
            if keywords:
                self.rules.append(Rule(intent, "all", keywords))
            return fn

        return register

    def action(self, name: str) -> Callable[[ActionHandler], ActionHandler]:
        def register(fn: ActionHandler) -> ActionHandler:
            self.actions.setdefault(name, fn)
            return fn

        return register

    def event(self, event_type: str) -> Callable[[MessageHandler], MessageHandler]:
        """Register a handler for another Feishu event type, called as (ctx, typed_event)."""

        def register(fn: MessageHandler) -> MessageHandler:
            self.events.setdefault(event_type, fn)
            return fn

        return register

    def include(self, *routers: Router) -> Router:
        for router in routers:
            for k, v in router.events.items():
                self.events.setdefault(k, v)
            for k, v in router.messages.items():
                self.messages.setdefault(k, v)
            for k, v in router.actions.items():
                self.actions.setdefault(k, v)
            self.rules.extend(router.rules)
        return self

    def match(self, text: str) -> Intent:
        """Map a message to an intent; forgiving of phrasing, Chinese or English."""
        norm = normalise(text)
        lang = detect_lang(norm)
        if not norm or norm in ("?", "/"):
            return Intent("help", lang, text=norm)
        for rule in self.rules:
            if _matches_any(rule.keywords, norm):
                return Intent(rule.intent, lang, rule.scope, norm)
        return Intent("unknown", lang, text=norm)

    def message_handler(self, intent: str) -> MessageHandler | None:
        return self.messages.get(intent) or self.messages.get("unknown")

    def action_handler(self, value: dict[str, Any]) -> ActionHandler | None:
        name = value.get("a")
        return self.actions.get(name) if isinstance(name, str) else None
