"""Intents (what a chat message asks for) and the registry that maps them to handlers.

Each handler module owns its keywords: `@router.message("due", keywords=(...))`; card
buttons are registered by their typed action: `@router.action(MarkDone)`. The root router
matches a message against all registered keywords in registration order. Registering the
same intent, action or event type twice raises: one click or message has one handler."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cards.actions import CardAction, action_name

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
# A matcher reads a whole message with the policies (every department's: words that are
# data; message types that have no text) before the keywords: an Intent, or None to let
# the keywords decide.
Matcher = Callable[[Any, Any], "Intent | None"]


class DuplicateHandler(ValueError):
    """Two handlers for one intent, card action or event type."""


def _put(table: dict, key: str, value: Any, what: str) -> None:
    if key in table:
        raise DuplicateHandler(f"{what} {key!r} is registered twice")
    table[key] = value


@dataclass
class Router:
    """Message handlers by intent name, card actions by their action class, other events by
    Feishu event type; each registered once."""

    name: str
    messages: dict[str, MessageHandler] = field(default_factory=dict)
    actions: dict[str, tuple[type[CardAction], ActionHandler]] = field(default_factory=dict)
    events: dict[str, MessageHandler] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    matchers: list[Matcher] = field(default_factory=list)

    def matcher(self, fn: Matcher) -> Matcher:
        """Register a matcher, called as (message event, policies) before any keyword."""
        self.matchers.append(fn)
        return fn

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
            _put(self.messages, intent, fn, "intent")
            for scope, words in (scopes or {}).items():
                self.rules.append(Rule(intent, scope, words))
            if keywords:
                self.rules.append(Rule(intent, "all", keywords))
            return fn

        return register

    def action(self, cls: type[CardAction]) -> Callable[[ActionHandler], ActionHandler]:
        """Register the handler of a card button, called as (ctx, click, action) with the
        button's value unpacked into `cls`."""

        def register(fn: ActionHandler) -> ActionHandler:
            _put(self.actions, cls.name, (cls, fn), "card action")
            return fn

        return register

    def event(self, event_type: str) -> Callable[[MessageHandler], MessageHandler]:
        """Register a handler for another Feishu event type, called as (ctx, typed event)."""

        def register(fn: MessageHandler) -> MessageHandler:
            _put(self.events, event_type, fn, "event type")
            return fn

        return register

    def include(self, *routers: Router) -> Router:
        for router in routers:
            for k, v in router.events.items():
                _put(self.events, k, v, "event type")
            for k, v in router.messages.items():
                _put(self.messages, k, v, "intent")
            for k, v in router.actions.items():
                _put(self.actions, k, v, "card action")
            self.rules.extend(router.rules)
            self.matchers.extend(router.matchers)
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

    def match_event(self, event: Any, policies: Any) -> Intent:
        """Map a message event to an intent: the matchers first (in registration order),
        then the keywords of its text."""
        for matcher in self.matchers:
            intent = matcher(event, policies)
            if intent is not None:
                return intent
        return self.match(event.text)

    def message_handler(self, intent: str) -> MessageHandler | None:
        return self.messages.get(intent) or self.messages.get("unknown")

    def action_handler(
        self, value: dict[str, Any]
    ) -> tuple[type[CardAction], ActionHandler] | None:
        name = action_name(value)
        return self.actions.get(name) if name else None
