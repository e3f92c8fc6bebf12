"""A local Feishu Open API emulator: a real HTTP server for lark-oapi and our gateway.

`FeishuEmulator` is the facade: lifecycle, routing, fault injection and the records tests
read. The APIs live beside it, one module per concern: `auth` (tenant tokens), `messages`
(send, reply), `cards` (PATCH, delayed update), `contact` (directory), `tasks` (Feishu Tasks v2),
`limits` (rate windows), all on one `model.Store`.

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

Time: one business clock (the injected `clock`, else the wall clock, plus `advance()`) for
message age, token, uuid and callback-token expiry and the rate-limit windows.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import secrets
import threading
import time
from collections import deque
from typing import Any

from aiohttp import web

from bot.devtools.emulator.auth import TenantAuth
from bot.devtools.emulator.cards import CardsApi
from bot.devtools.emulator.checks import ContentRules
from bot.devtools.emulator.contact import ContactApi
from bot.devtools.emulator.limits import RateLimits
from bot.devtools.emulator.longconn import LongConnEndpoint
from bot.devtools.emulator.messages import MessagesApi
from bot.devtools.emulator.model import (
    ApiError,
    Fault,
    Handler,
    MessageUpdate,
    Reply,
    Request,
    Store,
    StoredMessage,
)
from bot.devtools.emulator.tasks import TasksApi

log = logging.getLogger(__name__)

__all__ = ["API_NAMES", "FeishuEmulator", "MessageUpdate", "StoredMessage"]

MAX_BODY_BYTES = 4 * 1024 * 1024
_AUTO = object()


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

        self._store = Store(self.now)
        self._lock = self._store.lock
        self._auth = TenantAuth(self._store, self)
        self._limits = RateLimits(self._store, self)
        self._rules = ContentRules(card_validator, resolved=card_validator is not _AUTO)
        self._messages = MessagesApi(self._store, self, self._limits, self._rules)
        self._cards = CardsApi(self._store, self._limits, self._rules)
        self._contact = ContactApi(self._store, self)
        self.tasks = TasksApi(self._store)  # Feishu Tasks v2; tests read tasks.all() / get()
        self._routes = [
            *self._auth.routes(),
            *self._messages.routes(),
            *self._cards.routes(),
            *self._contact.routes(),
            *self.tasks.routes(),
        ]
        self.longconn = LongConnEndpoint(self)

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._base_url: str | None = None

    def now(self) -> float:
        """Business time (epoch seconds): the injected clock (or time.time) plus `advance()`."""
        if self._clock is None:
            base = time.time()
        elif hasattr(self._clock, "now"):
            base = self._clock.now().timestamp()
        else:
            base = float(self._clock())
        return base + self._offset

    @property
    def card_validator(self) -> Any:
        """The validator 2.0 cards go through (default: cards.schema.validate_card)."""
        return self._rules.validator()

    def advance(self, seconds: float) -> None:
        """Move business time forward: token, uuid and callback-token expiry, the 14-day
        window, and the rate-limit windows (`advance(1)` frees the per-second budgets)."""
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

    # ------------------------------------------------------- directory and chats

    def add_user(self, open_id: str, name: str, **fields: Any) -> None:
        """Make contact/v3/users/{open_id} known (extra fields: en_name, union_id, user_id, email...)."""
        with self._lock:
            self._contact.add_user(open_id, name, **fields)

    def add_department(
        self,
        open_department_id: str,
        name: str,
        *,
        leader: str | None = None,
        members: list[str] = (),
        **fields: Any,
    ) -> None:
        """Make a department known (contact/v3/departments/{id}, find_by_department); the
        `members` (open_ids, already added with `add_user`) get it in their department_ids."""
        with self._lock:
            self._contact.add_department(open_department_id, name, leader, **fields)
            for open_id in members:
                user = self._store.users[open_id]
                depts = user.setdefault("department_ids", [])
                if open_department_id not in depts:
                    depts.append(open_department_id)

    def set_chat_members(self, chat_id: str, open_ids: list[str]) -> None:
        """The users in a group chat (im/v1/chats/{chat_id}/members; bots are never listed)."""
        with self._lock:
            self._contact.set_chat_members(chat_id, open_ids)

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
            return self._messages.add_incoming(
                message_id,
                chat_id=chat_id,
                sender_open_id=sender_open_id,
                chat_type=chat_type,
                msg_type=msg_type,
                content=content,
            )

    def add_forwarded(self, message_id: str, parts: list[tuple[str, str, Any]]) -> None:
        """The messages of the registered merged forward `message_id`, which its event
        lacks and `GET im/v1/messages/{id}` returns: (open_id, msg_type, content) each."""
        with self._lock:
            self._messages.add_forwarded(message_id, parts)

    def set_p2p_chat(self, open_id: str, chat_id: str) -> None:
        """Declare a user's private chat with the bot (sends to their open_id land there)."""
        with self._lock:
            self._store.p2p_chats[open_id] = chat_id

    def chat_log(self, chat_id: str) -> list[StoredMessage]:
        """Every message in a chat, the users' and the bot's, in order (for the sandbox)."""
        with self._lock:
            return copy.deepcopy([m for m in self._store.by_id.values() if m.chat_id == chat_id])

    def apply_callback_card(self, message_id: str, card: dict) -> None:
        """What the Feishu client does with a card returned by a callback: replace it."""
        with self._lock:
            msg = self._store.by_id.get(message_id)
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

    # ------------------------------------------------------------------ tokens

    def issue_tenant_token(self) -> str:
        """A valid tenant token without an HTTP round-trip (for `enable_set_token` clients)."""
        with self._lock:
            return self._auth.issue(force_new=True)[0]

    def revoke_tokens(self) -> None:
        """Invalidate every issued tenant token (next API call answers 99991663)."""
        with self._lock:
            self._auth.revoke_all()

    def issue_callback_token(self, message_id: str) -> str:
        """A delayed-update token ("c-…") for a stored card message: 30 min, 2 uses."""
        with self._lock:
            return self._cards.issue_callback_token(message_id)

    # ------------------------------------------------------------------ faults

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
        self._add_fault(self._store.faults, api, status, code, msg, times, body, headers)

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
        self._add_fault(self._store.commit_faults, api, status, code, msg, times, body, headers)

    def _add_fault(self, table, api, status, code, msg, times, body, headers) -> None:
        self._check_api(api)
        if times < 1:
            raise ValueError("times must be >= 1")
        if isinstance(body, str):
            body = body.encode()
        with self._lock:
            table.setdefault(api, deque()).append(
                Fault(status, code, msg, times, body, dict(headers) if headers else None)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._store.faults.clear()
            self._store.commit_faults.clear()
            self._store.delays.clear()

    def set_delay(self, api: str, seconds: float | None) -> None:
        """Make `api` answer `seconds` later (asyncio.sleep in the emulator loop); 0/None clears."""
        self._check_api(api)
        with self._lock:
            if seconds:
                self._store.delays[api] = float(seconds)
            else:
                self._store.delays.pop(api, None)

    @staticmethod
    def _check_api(api: str) -> None:
        if api not in API_NAMES:
            raise ValueError(f"unknown api {api!r}; known: {sorted(API_NAMES)}")

    def reset(self) -> None:
        """Clear records, counters, rate windows, uuids, callback tokens, faults and delays;
        restore the limit knobs to their constructor values and undo `advance()`. Keeps the
        app config, the directory (users, departments, chat members) and issued tenant
        tokens (the SDK caches them process-wide)."""
        self.longconn.reset()
        with self._lock:
            self._store.clear()
            self._limits.clear()
            self._offset = 0.0
            (
                self.limits_enabled,
                self.app_per_second,
                self.app_per_minute,
                self.receiver_per_second,
                self.patch_per_second,
            ) = self._limit_defaults
            self._store.changed.notify_all()

    # ---------------------------------------------------------------- records

    @property
    def requests(self) -> list[dict]:
        """Every request: api, method, path, query, headers, json, time, status, code."""
        with self._lock:
            return copy.deepcopy(self._store.requests)

    def requests_for(self, api: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy([r for r in self._store.requests if r["api"] == api])

    @property
    def messages(self) -> list[StoredMessage]:
        with self._lock:
            return copy.deepcopy(self._store.messages)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: requests, http_429, code_230020, errors (non-zero codes), uuid_hits,
        faults_injected, tokens_issued, internal_errors, by_api {api: count}."""
        with self._lock:
            return copy.deepcopy(self._store.stats)

    def find_message(self, message_id: str) -> StoredMessage | None:
        with self._lock:
            msg = self._store.by_id.get(message_id)
            return copy.deepcopy(msg) if msg is not None else None

    def messages_to(self, receive_id: str) -> list[StoredMessage]:
        """Messages whose receive_id or chat_id is `receive_id` (replies count for the chat)."""
        with self._lock:
            return copy.deepcopy(
                [m for m in self._store.messages if receive_id in (m.receive_id, m.chat_id)]
            )

    def cards_to(self, receive_id: str) -> list[dict]:
        """The current version of every card sent to `receive_id`."""
        return [m.card for m in self.messages_to(receive_id) if m.msg_type == "interactive"]

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[StoredMessage]:
        """Block the calling thread until >= n messages are stored; TimeoutError otherwise."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("wait_for_messages called from the emulator thread")
        with self._store.changed:
            if not self._store.changed.wait_for(lambda: len(self._store.messages) >= n, timeout):
                raise TimeoutError(self._wait_failure(n, timeout))
            return copy.deepcopy(self._store.messages)

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
                if len(self._store.messages) >= n:
                    return copy.deepcopy(self._store.messages)
                if time.monotonic() >= deadline:
                    raise TimeoutError(self._wait_failure(n, timeout))
            await asyncio.sleep(poll)

    def _wait_failure(self, n: int, timeout: float) -> str:
        tail = [(r["api"], r["status"], r["code"]) for r in self._store.requests[-5:]]
        return (
            f"expected >= {n} messages within {timeout}s, have {len(self._store.messages)}; "
            f"last requests (api, status, code): {tail}"
        )

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

    # ---------------------------------------------------------------- serving

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for method, path, api, fn, auth in self._routes:
            app.router.add_route(method, path, self._endpoint(api, fn, auth))
        app.router.add_get("/_emulator/messages", self._introspect_messages)
        self.longconn.install(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    def _endpoint(self, api: str, fn: Handler, auth: bool):
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, api, fn, auth)

        return handler

    async def _serve(
        self, request: web.Request, api: str, fn: Handler, auth: bool
    ) -> web.StreamResponse:
        started = self.now()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._respond(Reply(413, {"code": 230025, "msg": "request body too large"}))
        except Exception:  # client went away mid-body
            return self._respond(Reply(400, {"code": 230001, "msg": "invalid request body"}))
        parsed: Any = None
        json_ok = False
        if raw:
            try:
                parsed = json.loads(raw)
                json_ok = True
            except ValueError:
                pass
        req = Request(
            api=api,
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.query.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            match=dict(request.match_info),
            raw=raw,
            json=parsed,
            json_ok=json_ok,
            query_all={k: request.query.getall(k) for k in request.query},
        )
        with self._lock:
            delay = self._store.delays.get(api)
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            reply, error = self._process(req, fn, auth)
            self._record(req, reply, started, error)
        return self._respond(reply)

    def _process(self, req: Request, fn: Handler, auth: bool) -> tuple[Reply, str | None]:
        stats = self._store.stats
        fault = self._take(self._store.faults, req.api)
        if fault is not None:
            stats["faults_injected"] += 1
            return fault.reply(), "injected"
        try:
            if auth:
                self._auth.check(req.headers)
                self._limits.check_app(req.api)
            reply = fn(req)
        except ApiError as exc:
            return Reply(exc.status, {"code": exc.code, "msg": exc.msg}, headers=exc.headers), None
        except Exception as exc:  # never a traceback on the wire
            log.exception("FeishuEmulator: internal error in %s", req.api)
            stats["internal_errors"] += 1
            body = {"code": 1, "msg": f"emulator internal error: {type(exc).__name__}: {exc}"}
            return Reply(500, body), "internal"
        if reply.status == 200 and reply.code == 0:
            fault = self._take(self._store.commit_faults, req.api)
            if fault is not None:
                stats["faults_injected"] += 1
                return fault.reply(), "injected_after_commit"
        return reply, None

    @staticmethod
    def _take(table: dict[str, deque[Fault]], api: str) -> Fault | None:
        queue = table.get(api)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return copy.copy(fault)

    def _record(self, req: Request, reply: Reply, started: float, error: str | None) -> None:
        self._store.record(
            {
                "api": req.api,
                "method": req.method,
                "path": req.path,
                "query": dict(req.query),
                "headers": dict(req.headers),
                "json": copy.deepcopy(req.json) if req.json_ok else None,
                "body": req.raw.decode("utf-8", "replace") if not req.json_ok else None,
                "time": started,
                "status": reply.status,
                "code": reply.code,
                "msg": reply.payload.get("msg") if reply.payload else None,
                "fault": error,
            }
        )

    @staticmethod
    def _respond(reply: Reply) -> web.Response:
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
                {**self._messages.message_data(m), "card": m.card, "updates": len(m.updates)}
                for m in self._store.messages
            ]
        return web.json_response({"items": items})

    async def _not_found(self, request: web.Request) -> web.Response:
        reply = Reply(404, {"code": 404, "msg": "404 page not found"})
        req = Request(
            api="unknown",
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            match={},
            raw=b"",
            json=None,
            json_ok=True,  # nothing read: no body to record
        )
        with self._lock:
            self._record(req, reply, self.now(), None)
        return self._respond(reply)


def _api_names() -> frozenset[str]:
    """Every API name the emulator serves (for fault injection and `requests_for`)."""
    return frozenset(route[2] for route in FeishuEmulator(card_validator=None)._routes)


API_NAMES = _api_names()
