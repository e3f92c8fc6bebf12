"""A local Feishu Open API emulator: a real HTTP server for lark-oapi and our gateway.

The server runs in its own thread with its own event loop (lark-oapi fetches tenant tokens with
blocking `requests`, even on async calls, so a server in the caller's loop would deadlock).
Every public method is thread-safe: state lives behind one lock, and the request handlers do
all their bookkeeping synchronously under that lock (only `set_delay` sleeps, before it).

Error-code choices (where Feishu is ambiguous, the choice is documented here):

- unknown message id on reply / PATCH / delayed-update token issue: 230011 (HTTP 400);
- PATCH of a non-card message, or of a card that is not shared (1.0 without
  `config.update_multi: true`, before or after): 230001;
- a 2.0 card replaced by a 1.0 card (PATCH or delayed update): 230099;
- delayed-update token unknown / expired (30 min) / used up (2 uses): 230001, the `msg` says which;
- unknown user on contact/v3/users: 41050 "no user authority error";
- malformed JSON body: the API's "invalid param" code (230001 for IM/card APIs, 10003 for auth);
- unknown path: HTTP 404 `{"code":404,"msg":"404 page not found"}`.

Rate limits: the app tier (50 per any 1 s and 1000 per any 60 s, sliding windows) is kept per
API (Feishu limits are "per API x per app"), so send and reply have separate budgets. Only
admitted requests consume a slot. The per-receiver limit (5 per any 1 s) is shared by sends and
replies to the same chat (a user's p2p chat for user ids). Rate-limit windows use real monotonic
time; everything else (message age, token and uuid expiry) uses the injectable business clock.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.devtools.emulator import content as cc
from bot.devtools.emulator.longconn import LongConnEndpoint

log = logging.getLogger(__name__)

API_NAMES = frozenset(
    {
        "auth.tenant_token",
        "bot.info",
        "im.message.create",
        "im.message.reply",
        "im.message.patch",
        "card.update",
        "contact.user.get",
    }
)

TOKEN_REUSE_MIN_REMAINING = 30 * 60  # Feishu returns the same token while >= 30 min remain
UUID_WINDOW = 3600.0
PATCH_WINDOW = 14 * 86400.0
CALLBACK_TOKEN_TTL = 30 * 60.0
CALLBACK_TOKEN_USES = 2
MAX_BODY_BYTES = 4 * 1024 * 1024

MSG_MISSING_TOKEN = (
    "Missing access token for authorization. Please make a request with token attached."
)
MSG_INVALID_TOKEN = (
    "Invalid access token for authorization. Please make a request with token attached."
)
MSG_FREQ_APP = "request trigger frequency limit"
MSG_FREQ_IM = "This operation triggers the frequency limit."

_AUTO = object()


class _ApiError(Exception):
    def __init__(
        self, status: int, code: int, msg: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


@dataclass
class _Reply:
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
class _Fault:
    status: int
    code: int | None
    msg: str
    times: int
    body: bytes | None
    headers: dict[str, str] | None

    def reply(self) -> _Reply:
        headers = dict(self.headers or {})
        if self.status == 429:
            headers.setdefault("x-ogw-ratelimit-limit", "50")
            headers.setdefault("x-ogw-ratelimit-reset", "1")
        if self.body is not None:
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
            return _Reply(self.status, raw=self.body, headers=headers)
        code = self.code if self.code is not None else (99991400 if self.status == 429 else 1)
        return _Reply(self.status, {"code": code, "msg": self.msg}, headers=headers)


@dataclass
class MessageUpdate:
    """One later version of a card: `via` is "patch" or "card.update"."""

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
class _CallbackToken:
    message_id: str
    expires: float
    uses_left: int


@dataclass
class _Ctx:
    api: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    match: dict[str, str]
    raw: bytes
    json: Any
    json_ok: bool


class FeishuEmulator:
    """A local Feishu Open API server (see module docstring for semantics).

    Usage::

        with FeishuEmulator() as emu:
            builder = lark.Client.builder().app_id(emu.app_id).app_secret(emu.app_secret)
            client = builder.domain(emu.base_url).build()
            ...
            emu.wait_for_messages(1)
    """

    def __init__(
        self,
        *,
        app_id: str = "cli_test",
        app_secret: str = "secret_test",
        bot_open_id: str = "ou_bot",
        app_name: str = "DutyBot",
        token_ttl: int = 7200,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Any = None,
        card_validator: Any = _AUTO,
        strict_ids: bool = True,
        limits_enabled: bool = True,
        app_per_second: int = 50,
        app_per_minute: int = 1000,
        receiver_per_second: int = 5,
        patch_per_second: int = 5,
        tenant_key: str = "tenant_emulator",
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.bot_open_id = bot_open_id
        self.app_name = app_name
        self.token_ttl = token_ttl
        self.host = host
        self.port = port
        self.tenant_key = tenant_key
        self.longconn = LongConnEndpoint(self)
        self.strict_ids = strict_ids
        # Limits: plain attributes, may be changed at any time (reads are atomic).
        self.limits_enabled = limits_enabled
        self.app_per_second = app_per_second
        self.app_per_minute = app_per_minute
        self.receiver_per_second = receiver_per_second
        self.patch_per_second = patch_per_second
        self._limit_defaults = (
            limits_enabled,
            app_per_second,
            app_per_minute,
            receiver_per_second,
            patch_per_second,
        )
        self._clock = clock
        self._offset = 0.0
        self._validator: cc.CardValidator | None = None
        self._validator_resolved = card_validator is not _AUTO
        if self._validator_resolved:
            self._validator = card_validator

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._base_url: str | None = None

        self._tokens: dict[str, float] = {}  # tenant token -> expiry (business time)
        self._last_token: str | None = None
        self._users: dict[str, dict] = {}
        self._clear_state()

    # ------------------------------------------------------------------ state

    def _clear_state(self) -> None:
        self._requests: list[dict] = []
        self._messages: list[StoredMessage] = []
        self._by_id: dict[str, StoredMessage] = {}  # bot messages and incoming ones
        self._p2p_chats: dict[str, str] = {}  # user open_id -> p2p chat id (learned)
        self._uuids: dict[str, tuple[str, float]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._commit_faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._app_windows: dict[str, tuple[deque[float], deque[float]]] = {}
        self._receiver_windows: dict[str, deque[float]] = {}
        self._patch_windows: dict[str, deque[float]] = {}
        self._callback_tokens: dict[str, _CallbackToken] = {}
        self._stats: dict[str, Any] = {
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

    def now(self) -> float:
        """Business time (epoch seconds): the injected clock (or time.time) plus `advance()`."""
        if self._clock is None:
            base = time.time()
        elif hasattr(self._clock, "now"):
            base = self._clock.now().timestamp()
        else:
            base = float(self._clock())
        return base + self._offset

    def advance(self, seconds: float) -> None:
        """Move business time forward (token/uuid/callback-token expiry, the 14-day window)."""
        with self._lock:
            self._offset += seconds

    # -------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FeishuEmulator is not started")
        return self._base_url

    def start(self) -> str:
        """Start serving in a background thread; return "http://127.0.0.1:<port>"."""
        with self._lock:
            if self._thread is not None:
                return self.base_url
            ready = threading.Event()
            errors: list[BaseException] = []
            thread = threading.Thread(
                target=self._run, args=(ready, errors), name="feishu-emulator", daemon=True
            )
            thread.start()
        ready.wait(10)
        if errors or not ready.is_set():
            thread.join(5)
            raise RuntimeError(f"FeishuEmulator failed to start: {errors or 'timeout'}")
        with self._lock:
            self._thread = thread
        return self.base_url

    def _run(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner: web.AppRunner | None = None
        try:
            runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=0.5)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            port = runner.addresses[0][1]
            self._loop = loop
            self._stop_event = asyncio.Event()
            self._base_url = f"http://{self.host}:{port}"
        except BaseException as exc:  # report to start()
            errors.append(exc)
            ready.set()
            if runner is not None:
                loop.run_until_complete(runner.cleanup())
            loop.close()
            return
        ready.set()
        try:
            loop.run_until_complete(self._stop_event.wait())
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()
            self._loop = None

    def stop(self) -> None:
        """Stop the server and join its thread (idempotent). Recorded state is kept."""
        with self._lock:
            thread, loop, stop_event = self._thread, self._loop, self._stop_event
            self._thread = None
        if thread is None:
            return
        if loop is not None and stop_event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop_event.set)
        thread.join(10)
        self._base_url = None

    def __enter__(self) -> FeishuEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------- config / helpers

    def add_user(self, open_id: str, name: str, **fields: Any) -> None:
        """Make contact/v3/users/{open_id} known (extra fields: en_name, union_id, user_id, email...)."""
        with self._lock:
            user = {"open_id": open_id, "name": name, **fields}
            self._users[open_id] = user

    def add_incoming_message(
        self,
        message_id: str | None = None,
        *,
        chat_id: str,
        sender_open_id: str,
        chat_type: str = "p2p",
        msg_type: str = "text",
        content: Any = None,
    ) -> str:
        """Make a user's message known so the bot can reply to it (else reply -> 230011).

        A p2p message also teaches the emulator that user's p2p chat id, which later sends to
        that open_id report as their chat_id. Not listed in `messages` (bot messages only)."""
        with self._lock:
            mid = message_id or "om_" + secrets.token_hex(16)
            p2p = chat_type == "p2p"
            if p2p:
                self._p2p_chats[sender_open_id] = chat_id
            parsed = content if content is not None else {}
            self._by_id[mid] = StoredMessage(
                message_id=mid,
                chat_id=chat_id,
                receive_id=sender_open_id if p2p else chat_id,
                receive_id_type="open_id" if p2p else "chat_id",
                msg_type=msg_type,
                content=parsed,
                raw_content=json.dumps(parsed, ensure_ascii=False),
                uuid=None,
                create_time=self.now(),
                api="incoming",
                sender_open_id=sender_open_id,
            )
            return mid

    def set_p2p_chat(self, open_id: str, chat_id: str) -> None:
        """Declare a user's private chat with the bot (sends to their open_id land there)."""
        with self._lock:
            self._p2p_chats[open_id] = chat_id

    def chat_log(self, chat_id: str) -> list[StoredMessage]:
        """Every message in a chat, the users' and the bot's, in order (for the sandbox)."""
        with self._lock:
            return copy.deepcopy([m for m in self._by_id.values() if m.chat_id == chat_id])

    def apply_callback_card(self, message_id: str, card: dict) -> None:
        """What the Feishu client does with a card returned by a callback: replace it."""
        with self._lock:
            msg = self._by_id.get(message_id)
            if msg is not None:
                msg.updates.append(
                    MessageUpdate(via="callback", content=copy.deepcopy(card), time=self.now())
                )

    def register_event(self, payload: dict) -> str | None:
        """`add_incoming_message` from a plain (unencrypted) im.message.receive_v1 envelope;
        returns the message id, or None for other events."""
        header = payload.get("header") or {}
        if header.get("event_type") != "im.message.receive_v1":
            return None
        event = payload.get("event") or {}
        message = event.get("message") or {}
        sender = ((event.get("sender") or {}).get("sender_id") or {}).get("open_id")
        try:
            content = json.loads(message.get("content") or "{}")
        except ValueError:
            content = {}
        return self.add_incoming_message(
            message.get("message_id"),
            chat_id=message.get("chat_id") or "oc_unknown",
            sender_open_id=sender or "ou_unknown",
            chat_type=message.get("chat_type") or "p2p",
            msg_type=message.get("message_type") or "text",
            content=content,
        )

    def issue_tenant_token(self) -> str:
        """A valid tenant token without an HTTP round-trip (for `enable_set_token` clients)."""
        with self._lock:
            return self._issue_token(force_new=True)[0]

    def revoke_tokens(self) -> None:
        """Invalidate every issued tenant token (next API call answers 99991663)."""
        with self._lock:
            self._tokens.clear()
            self._last_token = None

    def issue_callback_token(self, message_id: str) -> str:
        """A delayed-update token ("c-…") for a stored card message: 30 min, 2 uses."""
        with self._lock:
            if message_id not in self._by_id:
                raise KeyError(f"unknown message id {message_id!r}")
            token = "c-" + secrets.token_hex(20)
            self._callback_tokens[token] = _CallbackToken(
                message_id, self.now() + CALLBACK_TOKEN_TTL, CALLBACK_TOKEN_USES
            )
            return token

    def fail_next(
        self,
        api: str,
        *,
        status: int = 500,
        code: int | None = None,
        msg: str = "injected failure",
        times: int = 1,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` calls of `api` fail without touching state.

        JSON body `{"code": code, "msg": msg}` (code defaults to 99991400 for 429, else 1), or the
        raw `body` (served as text/html unless `headers` says otherwise). 429 faults get
        x-ogw-ratelimit-* headers unless given.
        """
        self._add_fault(self._faults, api, status, code, msg, times, body, headers)

    def fail_after_commit(
        self,
        api: str = "im.message.create",
        *,
        status: int = 500,
        code: int | None = None,
        msg: str = "injected failure after commit",
        times: int = 1,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` *successful* calls of `api` take effect (message stored, uuid
        remembered, card updated) but the response is this failure."""
        self._add_fault(self._commit_faults, api, status, code, msg, times, body, headers)

    def _add_fault(self, table, api, status, code, msg, times, body, headers) -> None:
        self._check_api(api)
        if times < 1:
            raise ValueError("times must be >= 1")
        if isinstance(body, str):
            body = body.encode()
        with self._lock:
            table.setdefault(api, deque()).append(
                _Fault(status, code, msg, times, body, dict(headers) if headers else None)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._commit_faults.clear()
            self._delays.clear()

    def set_delay(self, api: str, seconds: float | None) -> None:
        """Make `api` answer `seconds` later (asyncio.sleep in the emulator loop); 0/None clears."""
        self._check_api(api)
        with self._lock:
            if seconds:
                self._delays[api] = float(seconds)
            else:
                self._delays.pop(api, None)

    @staticmethod
    def _check_api(api: str) -> None:
        if api not in API_NAMES:
            raise ValueError(f"unknown api {api!r}; known: {sorted(API_NAMES)}")

    def reset(self) -> None:
        """Clear records, counters, rate windows, uuids, callback tokens, faults and delays;
        restore the limit knobs to their constructor values and undo `advance()`. Keeps the
        app config, users and issued tenant tokens (the SDK caches them process-wide)."""
        self.longconn.reset()
        with self._lock:
            self._clear_state()
            self._offset = 0.0
            (
                self.limits_enabled,
                self.app_per_second,
                self.app_per_minute,
                self.receiver_per_second,
                self.patch_per_second,
            ) = self._limit_defaults
            self._cond.notify_all()

    # ---------------------------------------------------------------- records

    @property
    def requests(self) -> list[dict]:
        """Every request: api, method, path, query, headers, json, time, status, code."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def requests_for(self, api: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy([r for r in self._requests if r["api"] == api])

    @property
    def messages(self) -> list[StoredMessage]:
        with self._lock:
            return copy.deepcopy(self._messages)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: requests, http_429, code_230020, errors (non-zero codes), uuid_hits,
        faults_injected, tokens_issued, internal_errors, by_api {api: count}."""
        with self._lock:
            return copy.deepcopy(self._stats)

    def find_message(self, message_id: str) -> StoredMessage | None:
        with self._lock:
            msg = self._by_id.get(message_id)
            return copy.deepcopy(msg) if msg is not None else None

    def messages_to(self, receive_id: str) -> list[StoredMessage]:
        """Messages whose receive_id or chat_id is `receive_id` (replies count for the chat)."""
        with self._lock:
            return copy.deepcopy(
                [m for m in self._messages if receive_id in (m.receive_id, m.chat_id)]
            )

    def cards_to(self, receive_id: str) -> list[dict]:
        """The current version of every card sent to `receive_id`."""
        return [m.card for m in self.messages_to(receive_id) if m.msg_type == "interactive"]

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[StoredMessage]:
        """Block the calling thread until >= n messages are stored; TimeoutError otherwise."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("wait_for_messages called from the emulator thread")
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= n, timeout):
                raise TimeoutError(self._wait_failure(n, timeout))
            return copy.deepcopy(self._messages)

    async def await_messages(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (mirrors wait_for_messages)
        poll: float = 0.01,
    ) -> list[StoredMessage]:
        """Async variant for the test's own loop (polls with asyncio.sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self._messages) >= n:
                    return copy.deepcopy(self._messages)
                if time.monotonic() >= deadline:
                    raise TimeoutError(self._wait_failure(n, timeout))
            await asyncio.sleep(poll)

    def _wait_failure(self, n: int, timeout: float) -> str:
        tail = [(r["api"], r["status"], r["code"]) for r in self._requests[-5:]]
        return (
            f"expected >= {n} messages within {timeout}s, have {len(self._messages)}; "
            f"last requests (api, status, code): {tail}"
        )

    # ------------------------------------------------------------------ tokens

    def _issue_token(self, force_new: bool = False) -> tuple[str, int]:
        now = self.now()
        last = self._last_token
        if not force_new and last is not None and last in self._tokens:
            remaining = self._tokens[last] - now
            if remaining >= TOKEN_REUSE_MIN_REMAINING:
                return last, int(remaining)
        token = "t-" + secrets.token_hex(20)
        self._tokens[token] = now + self.token_ttl
        self._last_token = token
        self._stats["tokens_issued"] += 1
        return token, int(self.token_ttl)

    def _check_auth(self, headers: dict[str, str]) -> None:
        value = headers.get("authorization", "")
        if not value.startswith("Bearer ") or not value[7:].strip():
            raise _ApiError(400, 99991661, MSG_MISSING_TOKEN)
        token = value[7:].strip()
        expiry = self._tokens.get(token)
        if expiry is None or expiry <= self.now():
            raise _ApiError(400, 99991663, MSG_INVALID_TOKEN)

    # ------------------------------------------------------------ rate limits

    def _check_app_limit(self, api: str) -> None:
        if not self.limits_enabled:
            return
        now = time.monotonic()
        sec, minute = self._app_windows.setdefault(api, (deque(), deque()))
        for window, span, limit in (
            (sec, 1.0, self.app_per_second),
            (minute, 60.0, self.app_per_minute),
        ):
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= limit:
                reset = max(1, math.ceil(window[0] + span - now))
                raise _ApiError(
                    429,
                    99991400,
                    MSG_FREQ_APP,
                    {"x-ogw-ratelimit-limit": str(limit), "x-ogw-ratelimit-reset": str(reset)},
                )
        sec.append(now)
        minute.append(now)

    def _check_window(self, table: dict[str, deque[float]], key: str, limit: int) -> None:
        if not self.limits_enabled:
            return
        now = time.monotonic()
        window = table.setdefault(key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            raise _ApiError(400, 230020, MSG_FREQ_IM)
        window.append(now)

    # ---------------------------------------------------------------- cards

    def _card_validator(self) -> cc.CardValidator | None:
        if not self._validator_resolved:
            self._validator = cc.load_default_validator()
            self._validator_resolved = True
        return self._validator

    def _check_card(self, card: Any, previous: dict | None = None) -> None:
        problems = cc.card_problems(card, self._card_validator())
        if problems:
            raise _ApiError(
                400, 230099, "Failed to create card content, ext=ErrMsg: " + "; ".join(problems)
            )
        if (
            previous is not None
            and cc.is_v2(previous)
            and not cc.is_v2(card)
            and not cc.is_template(card)
        ):
            raise _ApiError(
                400,
                230099,
                "Failed to create card content, ext=ErrMsg: a card JSON 2.0 "
                "cannot be replaced by a card JSON 1.0",
            )

    def _check_content(self, msg_type: Any, content: Any, previous: dict | None = None) -> Any:
        if not isinstance(msg_type, str) or not msg_type:
            raise _ApiError(400, 230001, "invalid param: msg_type is required")
        if msg_type not in cc.MSG_TYPES:
            raise _ApiError(400, 230001, f"invalid param: unknown msg_type {msg_type!r}")
        if not isinstance(content, str):
            raise _ApiError(400, 230001, "invalid param: content must be a JSON string")
        limit = cc.size_limit(msg_type)
        size = len(content.encode("utf-8"))
        if limit is not None and size > limit:
            raise _ApiError(
                400,
                230025,
                f"The length of the message content reaches its limit: {size} bytes > {limit}",
            )
        parsed, problem = cc.parse_content(content)
        if problem is not None:
            if msg_type == "interactive":
                raise _ApiError(
                    400, 230099, f"Failed to create card content, ext=ErrMsg: {problem}"
                )
            raise _ApiError(400, 230001, f"invalid param: {problem}")
        if msg_type == "interactive":
            self._check_card(parsed, previous)
        else:
            problem = cc.content_problem(msg_type, parsed)
            if problem is not None:
                raise _ApiError(400, 230001, f"invalid param: {problem}")
        return parsed

    @staticmethod
    def _check_uuid(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise _ApiError(400, 230001, "invalid param: uuid must be a string")
        if len(value) > cc.UUID_MAX_CHARS:
            raise _ApiError(
                400, 230001, f"invalid param: uuid longer than {cc.UUID_MAX_CHARS} characters"
            )
        return value

    def _uuid_hit(self, uuid: str | None) -> StoredMessage | None:
        if uuid is None:
            return None
        hit = self._uuids.get(uuid)
        if hit is None:
            return None
        message_id, at = hit
        if self.now() - at >= UUID_WINDOW or message_id not in self._by_id:
            del self._uuids[uuid]
            return None
        self._stats["uuid_hits"] += 1
        return self._by_id[message_id]

    # -------------------------------------------------------------- messages

    def _message_data(self, msg: StoredMessage) -> dict:
        ms = str(int(msg.create_time * 1000))
        data = {
            "message_id": msg.message_id,
            "msg_type": msg.msg_type,
            "create_time": ms,
            "update_time": ms,
            "deleted": False,
            "updated": False,
            "chat_id": msg.chat_id,
            "sender": {
                "id": self.app_id,
                "id_type": "app_id",
                "sender_type": "app",
                "tenant_key": self.tenant_key,
            },
            "body": {"content": msg.raw_content},
        }
        if msg.parent_id:
            data["parent_id"] = msg.parent_id
            data["root_id"] = msg.root_id
            data["upper_message_id"] = msg.parent_id
        if msg.thread_id:
            data["thread_id"] = msg.thread_id
        return data

    def _store(self, msg: StoredMessage) -> None:
        self._messages.append(msg)
        self._by_id[msg.message_id] = msg
        if msg.uuid is not None:
            self._uuids[msg.uuid] = (msg.message_id, msg.create_time)
        self._cond.notify_all()

    def _chat_for(self, receive_id_type: str, receive_id: str) -> str:
        if receive_id_type == "chat_id":
            return receive_id
        if receive_id_type == "open_id" and receive_id in self._p2p_chats:
            return self._p2p_chats[receive_id]
        digest = hashlib.sha1(f"{receive_id_type}:{receive_id}".encode()).hexdigest()
        return "oc_" + digest[:32]

    def _get_message(self, message_id: str) -> StoredMessage:
        msg = self._by_id.get(message_id)
        if msg is None:
            raise _ApiError(
                400, 230011, f"The message is recalled or does not exist: {message_id!r}"
            )
        return msg

    # --------------------------------------------------------------- handlers
    # Each runs synchronously under the lock and returns a success payload or raises _ApiError.

    def _h_token(self, ctx: _Ctx) -> _Reply:
        body = ctx.json if isinstance(ctx.json, dict) else None
        if body is None:
            raise _ApiError(400, 10003, "invalid param")
        app_id, secret = body.get("app_id"), body.get("app_secret")
        if not isinstance(app_id, str) or not isinstance(secret, str) or not app_id or not secret:
            raise _ApiError(400, 10003, "invalid param: app_id and app_secret are required")
        if app_id != self.app_id or secret != self.app_secret:
            raise _ApiError(400, 10014, "app secret invalid")
        token, expire = self._issue_token()
        return _Reply(200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire})

    def _h_bot_info(self, ctx: _Ctx) -> _Reply:
        bot = {
            "open_id": self.bot_open_id,
            "app_name": self.app_name,
            "activate_status": 2,
            "avatar_url": "",
            "ip_white_list": [],
        }
        return _Reply(200, {"code": 0, "msg": "ok", "bot": bot})

    def _json_body(self, ctx: _Ctx) -> dict:
        if not ctx.json_ok or not isinstance(ctx.json, dict):
            raise _ApiError(400, 230001, "invalid param: request body must be a JSON object")
        return ctx.json

    def _h_create(self, ctx: _Ctx) -> _Reply:
        rit = ctx.query.get("receive_id_type")
        if not rit:
            raise _ApiError(400, 230001, "invalid param: receive_id_type is required")
        if rit not in cc.RECEIVE_ID_TYPES:
            raise _ApiError(400, 230001, f"invalid param: unknown receive_id_type {rit!r}")
        body = self._json_body(ctx)
        receive_id = body.get("receive_id")
        if not isinstance(receive_id, str) or not receive_id:
            raise _ApiError(400, 230001, "invalid param: receive_id is required")
        if self.strict_ids:
            problem = cc.receive_id_problem(rit, receive_id)
            if problem:
                raise _ApiError(400, 230001, f"invalid param: {problem}")
        msg_type = body.get("msg_type")
        parsed = self._check_content(msg_type, body.get("content"))
        uuid = self._check_uuid(body.get("uuid"))
        existing = self._uuid_hit(uuid)
        if existing is not None:
            return _Reply(200, {"code": 0, "msg": "success", "data": self._message_data(existing)})
        chat_id = self._chat_for(rit, receive_id)
        self._check_window(self._receiver_windows, chat_id, self.receiver_per_second)
        msg = StoredMessage(
            message_id="om_" + secrets.token_hex(16),
            chat_id=chat_id,
            receive_id=receive_id,
            receive_id_type=rit,
            msg_type=msg_type,
            content=parsed,
            raw_content=body["content"],
            uuid=uuid,
            create_time=self.now(),
        )
        self._store(msg)
        return _Reply(200, {"code": 0, "msg": "success", "data": self._message_data(msg)})

    def _h_reply(self, ctx: _Ctx) -> _Reply:
        parent = self._get_message(ctx.match["message_id"])
        body = self._json_body(ctx)
        msg_type = body.get("msg_type")
        parsed = self._check_content(msg_type, body.get("content"))
        uuid = self._check_uuid(body.get("uuid"))
        in_thread = body.get("reply_in_thread", False)
        if not isinstance(in_thread, bool):
            raise _ApiError(400, 230001, "invalid param: reply_in_thread must be a boolean")
        existing = self._uuid_hit(uuid)
        if existing is not None:
            return _Reply(200, {"code": 0, "msg": "success", "data": self._message_data(existing)})
        self._check_window(self._receiver_windows, parent.chat_id, self.receiver_per_second)
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
            create_time=self.now(),
            api="im.message.reply",
            parent_id=parent.message_id,
            root_id=parent.root_id or parent.message_id,
            thread_id=parent.thread_id,
            reply_in_thread=in_thread,
        )
        self._store(msg)
        return _Reply(200, {"code": 0, "msg": "success", "data": self._message_data(msg)})

    def _h_patch(self, ctx: _Ctx) -> _Reply:
        msg = self._get_message(ctx.match["message_id"])
        body = self._json_body(ctx)
        if msg.incoming:
            raise _ApiError(400, 230001, "invalid param: the message was not sent by this app")
        if msg.msg_type != "interactive":
            raise _ApiError(
                400,
                230001,
                f"invalid param: only interactive (card) messages can be patched, "
                f"{msg.message_id} is {msg.msg_type!r}",
            )
        if self.now() - msg.create_time > PATCH_WINDOW:
            raise _ApiError(
                400, 230031, "Message can only be modified within 14 days after sending."
            )
        previous = msg.card or {}
        card = self._check_content("interactive", body.get("content"), previous)
        for which, c in (("sent", previous), ("new", card)):
            if not cc.is_template(c) and not cc.is_shared(c):
                raise _ApiError(
                    400,
                    230001,
                    f"invalid param: the {which} card is not a shared card (declare "
                    '"config": {"update_multi": true} before and after, or use schema 2.0)',
                )
        self._check_window(self._patch_windows, msg.message_id, self.patch_per_second)
        msg.updates.append(MessageUpdate("patch", card, self.now()))
        self._cond.notify_all()
        return _Reply(200, {"code": 0, "msg": "success", "data": {}})

    def _h_card_update(self, ctx: _Ctx) -> _Reply:
        body = self._json_body(ctx)
        token = body.get("token")
        card = body.get("card")
        if not isinstance(token, str) or not token:
            raise _ApiError(400, 230001, "invalid param: token is required")
        if not isinstance(card, dict):
            raise _ApiError(400, 230001, "invalid param: card must be an object")
        entry = self._callback_tokens.get(token)
        if entry is None:
            raise _ApiError(400, 230001, "invalid param: card update token is invalid")
        if self.now() > entry.expires:
            raise _ApiError(400, 230001, "invalid param: card update token expired (30 min)")
        if entry.uses_left <= 0:
            raise _ApiError(400, 230001, "invalid param: card update token used up (2 uses)")
        msg = self._get_message(entry.message_id)
        size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
        if size > cc.CARD_MAX_BYTES:
            raise _ApiError(
                400,
                230025,
                f"The length of the message content reaches its limit: {size} bytes > "
                f"{cc.CARD_MAX_BYTES}",
            )
        stored = {k: v for k, v in card.items() if k != "open_ids"}
        self._check_card(stored, msg.card)
        entry.uses_left -= 1
        msg.updates.append(MessageUpdate("card.update", stored, self.now(), token))
        self._cond.notify_all()
        return _Reply(200, {"code": 0, "msg": "success", "data": {}})

    def _h_user_get(self, ctx: _Ctx) -> _Reply:
        id_type = ctx.query.get("user_id_type", "open_id")
        if id_type not in ("open_id", "union_id", "user_id"):
            raise _ApiError(400, 99992402, f"field validation failed: user_id_type={id_type!r}")
        wanted = ctx.match["user_id"]
        for user in self._users.values():
            if user.get(id_type) == wanted:
                return _Reply(200, {"code": 0, "msg": "success", "data": {"user": dict(user)}})
        raise _ApiError(400, 41050, "no user authority error")

    # ------------------------------------------------------------------ app

    # ------------------------------------------------------------ long connection

    def push_longconn(
        self, payload: dict, *, kind: str = "event", timeout: float = 5.0
    ) -> dict | None:
        """Send an event or callback over the fake long connection (blocking; any thread)."""
        future = asyncio.run_coroutine_threadsafe(
            self.longconn.apush(payload, kind=kind, timeout=timeout), self._loop
        )
        return future.result(timeout + 1)

    async def apush_longconn(
        self, payload: dict, *, kind: str = "event", timeout: float = 5.0
    ) -> dict | None:
        """The same, awaitable from another event loop (e.g. a test's)."""
        future = asyncio.run_coroutine_threadsafe(
            self.longconn.apush(payload, kind=kind, timeout=timeout), self._loop
        )
        return await asyncio.wrap_future(future)

    def drop_longconn(self) -> None:
        """Close every long-connection socket, as a network failure would."""
        asyncio.run_coroutine_threadsafe(self.longconn.adrop(), self._loop).result(5)

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        routes = [
            (
                "POST",
                "/open-apis/auth/v3/tenant_access_token/internal",
                "auth.tenant_token",
                self._h_token,
                False,
            ),
            ("GET", "/open-apis/bot/v3/info", "bot.info", self._h_bot_info, True),
            ("POST", "/open-apis/im/v1/messages", "im.message.create", self._h_create, True),
            (
                "POST",
                "/open-apis/im/v1/messages/{message_id}/reply",
                "im.message.reply",
                self._h_reply,
                True,
            ),
            (
                "PATCH",
                "/open-apis/im/v1/messages/{message_id}",
                "im.message.patch",
                self._h_patch,
                True,
            ),
            (
                "POST",
                "/open-apis/interactive/v1/card/update",
                "card.update",
                self._h_card_update,
                True,
            ),
            (
                "GET",
                "/open-apis/contact/v3/users/{user_id}",
                "contact.user.get",
                self._h_user_get,
                True,
            ),
        ]
        for method, path, api, fn, auth in routes:
            app.router.add_route(method, path, self._endpoint(api, fn, auth))
        app.router.add_get("/_emulator/messages", self._introspect_messages)
        self.longconn.install(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    def _endpoint(self, api: str, fn: Callable[[_Ctx], _Reply], auth: bool):
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, api, fn, auth)

        return handler

    async def _serve(
        self, request: web.Request, api: str, fn: Callable[[_Ctx], _Reply], auth: bool
    ) -> web.StreamResponse:
        started = self.now()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._respond(_Reply(413, {"code": 230025, "msg": "request body too large"}))
        except Exception:  # client went away mid-body
            return self._respond(_Reply(400, {"code": 230001, "msg": "invalid request body"}))
        parsed: Any = None
        json_ok = False
        if raw:
            try:
                parsed = json.loads(raw)
                json_ok = True
            except ValueError:
                pass
        ctx = _Ctx(
            api=api,
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.query.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            match=dict(request.match_info),
            raw=raw,
            json=parsed,
            json_ok=json_ok,
        )
        with self._lock:
            delay = self._delays.get(api)
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            reply, error = self._process(ctx, fn, auth)
            self._record(ctx, reply, started, error)
        return self._respond(reply)

    def _process(
        self, ctx: _Ctx, fn: Callable[[_Ctx], _Reply], auth: bool
    ) -> tuple[_Reply, str | None]:
        fault = self._take(self._faults, ctx.api)
        if fault is not None:
            self._stats["faults_injected"] += 1
            return fault.reply(), "injected"
        try:
            if auth:
                self._check_auth(ctx.headers)
                self._check_app_limit(ctx.api)
            reply = fn(ctx)
        except _ApiError as exc:
            return _Reply(exc.status, {"code": exc.code, "msg": exc.msg}, headers=exc.headers), None
        except Exception as exc:  # never a traceback on the wire
            log.exception("FeishuEmulator: internal error in %s", ctx.api)
            self._stats["internal_errors"] += 1
            body = {"code": 1, "msg": f"emulator internal error: {type(exc).__name__}: {exc}"}
            return _Reply(500, body), "internal"
        if reply.status == 200 and reply.code == 0:
            fault = self._take(self._commit_faults, ctx.api)
            if fault is not None:
                self._stats["faults_injected"] += 1
                return fault.reply(), "injected_after_commit"
        return reply, None

    @staticmethod
    def _take(table: dict[str, deque[_Fault]], api: str) -> _Fault | None:
        queue = table.get(api)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return copy.copy(fault)

    def _record(self, ctx: _Ctx, reply: _Reply, started: float, error: str | None) -> None:
        code = reply.code
        self._stats["requests"] += 1
        by_api = self._stats["by_api"]
        by_api[ctx.api] = by_api.get(ctx.api, 0) + 1
        if reply.status == 429:
            self._stats["http_429"] += 1
        if code == 230020:
            self._stats["code_230020"] += 1
        if code not in (0, None) or reply.status >= 400:
            self._stats["errors"] += 1
        self._requests.append(
            {
                "api": ctx.api,
                "method": ctx.method,
                "path": ctx.path,
                "query": dict(ctx.query),
                "headers": dict(ctx.headers),
                "json": copy.deepcopy(ctx.json) if ctx.json_ok else None,
                "body": ctx.raw.decode("utf-8", "replace") if not ctx.json_ok else None,
                "time": started,
                "status": reply.status,
                "code": code,
                "msg": reply.payload.get("msg") if reply.payload else None,
                "fault": error,
            }
        )

    @staticmethod
    def _respond(reply: _Reply) -> web.Response:
        headers = {"X-Tt-Logid": "emu" + secrets.token_hex(12), **reply.headers}
        if reply.raw is not None:
            return web.Response(status=reply.status, body=reply.raw, headers=headers)
        return web.json_response(
            reply.payload,
            status=reply.status,
            headers=headers,
            dumps=lambda obj: json.dumps(obj, ensure_ascii=False),
        )

    async def _introspect_messages(self, request: web.Request) -> web.Response:
        """Unauthenticated debug view for the sandbox: all stored messages."""
        with self._lock:
            items = [
                {**self._message_data(m), "card": m.card, "updates": len(m.updates)}
                for m in self._messages
            ]
        return web.json_response({"items": items})

    async def _not_found(self, request: web.Request) -> web.Response:
        with self._lock:
            self._stats["requests"] += 1
            self._stats["errors"] += 1
            self._requests.append(
                {
                    "api": "unknown",
                    "method": request.method,
                    "path": request.path,
                    "query": dict(request.query),
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                    "json": None,
                    "body": None,
                    "time": self.now(),
                    "status": 404,
                    "code": 404,
                    "msg": "404 page not found",
                    "fault": None,
                }
            )
        return web.json_response({"code": 404, "msg": "404 page not found"}, status=404)
