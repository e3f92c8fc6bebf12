"""The emulator's state and wire primitives, shared by its API modules.

`Store` holds everything the Feishu side remembers (messages, uuids, users, chats...). It has
no lock of its own: the facade (`server.FeishuEmulator`) takes its lock around every request
and every public call, so the API modules read and write the store synchronously."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class ApiError(Exception):
    """A Feishu-style error answer: HTTP status, `code`, `msg` (and optional headers)."""

    def __init__(
        self, status: int, code: int, msg: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


def ok(data: Any = None, **extra: Any) -> Reply:
    """A success answer `{"code": 0, "msg": "success", "data": ...}`."""
    payload: dict[str, Any] = {"code": 0, "msg": "success", **extra}
    if data is not None:
        payload["data"] = data
    return Reply(200, payload)


@dataclass
class Reply:
    status: int
    payload: dict | None = None  # JSON body
    raw: bytes | None = None  # non-JSON body (fault injection)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> int | None:
        if self.payload is None:
            return None
        code = self.payload.get("code")
        return code if isinstance(code, int) else None


@dataclass
class Request:
    """One decoded request as the API handlers see it."""

    api: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    match: dict[str, str]
    raw: bytes
    json: Any
    json_ok: bool
    query_all: dict[str, list[str]] = field(default_factory=dict)  # repeated keys (?a=1&a=2)

    def body(self) -> dict:
        """The JSON object body, or the IM/card APIs' "invalid param" error."""
        if not self.json_ok or not isinstance(self.json, dict):
            raise ApiError(400, 230001, "invalid param: request body must be a JSON object")
        return self.json


Handler = Callable[[Request], Reply]
# (HTTP method, path pattern, api name, handler, needs a tenant token)
Route = tuple[str, str, str, Handler, bool]


@dataclass
class Fault:
    status: int
    code: int | None
    msg: str
    times: int
    body: bytes | None
    headers: dict[str, str] | None

    def reply(self) -> Reply:
        headers = dict(self.headers or {})
        if self.status == 429:
            headers.setdefault("x-ogw-ratelimit-limit", "50")
            headers.setdefault("x-ogw-ratelimit-reset", "1")
        if self.body is not None:
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
            return Reply(self.status, raw=self.body, headers=headers)
        code = self.code if self.code is not None else (99991400 if self.status == 429 else 1)
        return Reply(self.status, {"code": code, "msg": self.msg}, headers=headers)


@dataclass
class MessageUpdate:
    """One later version of a card: `via` is "patch", "card.update" or "callback"."""

    via: str
    content: Any
    time: float
    token: str | None = None


@dataclass
class StoredMessage:
    """A message the bot sent through the emulator (or, with `sender_open_id` set, a user's
    message registered by `add_incoming_message`). Accessors hand out deep copies.

    `receive_id` is the conversation partner: the receiver for bot messages; for incoming
    messages the sender (p2p) or the chat (group), so replies inherit the right receiver."""

    message_id: str
    chat_id: str
    receive_id: str
    receive_id_type: str
    msg_type: str
    content: Any  # the parsed original content (a dict)
    raw_content: str  # the original content string as sent
    uuid: str | None
    create_time: float  # epoch seconds, business clock
    api: str = "im.message.create"
    parent_id: str | None = None
    root_id: str | None = None
    thread_id: str | None = None
    reply_in_thread: bool = False
    updates: list[MessageUpdate] = field(default_factory=list)
    sender_open_id: str | None = None  # None: sent by the bot

    @property
    def incoming(self) -> bool:
        return self.sender_open_id is not None

    @property
    def latest(self) -> Any:
        """The current content: the last update, or the original."""
        return self.updates[-1].content if self.updates else self.content

    @property
    def card(self) -> dict | None:
        """The current card for interactive messages, else None."""
        return self.latest if self.msg_type == "interactive" else None

    @property
    def text(self) -> str | None:
        if self.msg_type == "text" and isinstance(self.content, dict):
            return self.content.get("text")
        return None


@dataclass
class CallbackToken:
    message_id: str
    expires: float
    uses_left: int


def new_stats() -> dict[str, Any]:
    return {
        "requests": 0,
        "http_429": 0,
        "code_230020": 0,
        "errors": 0,
        "uuid_hits": 0,
        "faults_injected": 0,
        "tokens_issued": 0,
        "internal_errors": 0,
        "by_api": {},
    }


class Store:
    """What Feishu remembers. `now()` is business time (epoch seconds, injectable)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified on every stored message/update
        # Directory data (kept by reset(): it is configuration, not traffic).
        self.users: dict[str, dict] = {}  # open_id -> user object as contact/v3 returns it
        self.departments: dict[str, dict] = {}  # open_department_id -> department object
        self.chat_members: dict[str, list[str]] = {}  # chat_id -> member open_ids
        self.clear()

    def clear(self) -> None:
        self.requests: list[dict] = []
        self.messages: list[StoredMessage] = []  # bot messages, in order
        self.by_id: dict[str, StoredMessage] = {}  # bot messages and incoming ones
        self.forwarded: dict[str, list[StoredMessage]] = {}  # merged forward -> its messages
        self.p2p_chats: dict[str, str] = {}  # user open_id -> p2p chat id (learned)
        self.uuids: dict[str, tuple[str, float]] = {}
        self.faults: dict[str, deque[Fault]] = {}
        self.commit_faults: dict[str, deque[Fault]] = {}
        self.delays: dict[str, float] = {}
        self.callback_tokens: dict[str, CallbackToken] = {}
        self.tasks: dict[str, Any] = {}  # Feishu Tasks v2: guid -> tasks.FeishuTask
        self.task_tokens: dict[str, str] = {}  # client_token -> guid
        self.deleted_tasks: list[Any] = []
        self.stats = new_stats()

    def record(self, entry: dict) -> None:
        """One request as tests read it back (`requests`), and the counters (`stats`)."""
        stats, status, code = self.stats, entry["status"], entry["code"]
        stats["requests"] += 1
        stats["by_api"][entry["api"]] = stats["by_api"].get(entry["api"], 0) + 1
        if status == 429:
            stats["http_429"] += 1
        if code == 230020:
            stats["code_230020"] += 1
        if code not in (0, None) or status >= 400:
            stats["errors"] += 1
        self.requests.append(entry)

    def store(self, msg: StoredMessage) -> None:
        self.messages.append(msg)
        self.by_id[msg.message_id] = msg
        if msg.uuid is not None:
            self.uuids[msg.uuid] = (msg.message_id, msg.create_time)
        self.changed.notify_all()

    def get_message(self, message_id: str) -> StoredMessage:
        msg = self.by_id.get(message_id)
        if msg is None:
            raise ApiError(
                400, 230011, f"The message is recalled or does not exist: {message_id!r}"
            )
        return msg


class AppConfig(Protocol):
    """The app's settings as the API modules read them (the facade's plain attributes, which
    tests may change at any time)."""

    app_id: str
    app_secret: str
    bot_open_id: str
    app_name: str
    token_ttl: int
    tenant_key: str
    strict_ids: bool
    limits_enabled: bool
    app_per_second: int
    app_per_minute: int
    receiver_per_second: int
    patch_per_second: int
