"""The one gateway to Feishu's Open API, over lark-oapi's async calls.

- lark_oapi is imported lazily, and only the parts we call (bot/feishu/sdk.py: ~40 MB
  instead of ~160 MB for all of it): only code that talks to Feishu pays.
- The tenant token is ours (bot/feishu/gateway/tokens.py, async) and handed to the SDK per request, so the
  SDK's blocking token fetch never runs on the event loop.
- lark-oapi opens a new httpx client (and SSL context, ~50 ms of CPU) per call; we give it
  one pooled client per event loop instead (bot/feishu/gateway/httpx_pool.py).
- Retries: token-invalid codes refresh the token once; 429/99991400 waits for
  `x-ogw-ratelimit-reset`; 230020 (per-chat frequency) and 5xx back off with jitter;
  payload and permission errors are not retried. Every send carries the caller's
  deterministic `uuid`, so a retry after a lost response never posts twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.feishu.limits import SendLimits
from bot.feishu.sdk import load as load_sdk
from bot.feishu.tokens import TenantTokenProvider

log = logging.getLogger("dutybot.feishu")

TOKEN_INVALID = frozenset({99991661, 99991663, 99991664, 99991665, 99991668})
RATE_LIMITED = 99991400
FREQUENCY_LIMITED = 230020
MAX_ATTEMPTS = 4
MAX_INLINE_WAIT = 10.0  # longer waits go back to the outbox schedule


class FeishuError(Exception):
    def __init__(
        self,
        code: int,
        msg: str,
        *,
        status: int = 0,
        retryable: bool = False,
        retry_after: float | None = None,
        log_id: str | None = None,
    ) -> None:
        self.code, self.msg, self.status = code, msg, status
        self.retryable, self.retry_after, self.log_id = retryable, retry_after, log_id
        super().__init__(
            f"Feishu API error {code} (HTTP {status}): {msg}"
            + (f" [log_id {log_id}]" if log_id else "")
        )


@dataclass(frozen=True)
class BotInfo:
    open_id: str
    app_name: str


def _header(headers: dict[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _code_and_msg(resp) -> tuple[int, str]:
    """Feishu's business code. Typed SDK calls parse it; `arequest` does not (it reports
    code 0 for any 2xx and None for errors), so read the body when it is JSON."""
    raw = resp.raw
    try:
        data = json.loads(raw.content) if raw is not None and raw.content else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), int):
        return data["code"], str(data.get("msg") or "")
    status = raw.status_code if raw is not None else 0
    code = resp.code if isinstance(resp.code, int) else (0 if status and status < 400 else -1)
    return code, str(resp.msg or "")


async def _counted(limits: SendLimits, receiver: str | None, fn, option):
    """One call inside its rate-limit places, held until its answer is in (by then Feishu
    has counted it: bot.feishu.limits)."""
    slot = await limits.acquire(receiver)
    try:
        return await fn(option)
    finally:
        slot.release()


def _jitter(attempt: int) -> float:
    return min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)


class FeishuGateway:
    """Async sends, replies, card patches and delayed card updates."""

    def __init__(
        self,
        domain: str,
        app_id: str,
        app_secret: str,
        clock: Clock,
        limits: SendLimits | None = None,
        timeout: float = 10.0,
        attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.domain = domain
        self._app_id, self._app_secret, self._timeout = app_id, app_secret, timeout
        self.tokens = TenantTokenProvider(domain, app_id, app_secret, clock, timeout)
        self.limits = limits or SendLimits()
        self._client = None
        self.attempts = attempts  # inline tries per call; the outbox retries beyond that
        self.stats = {"sent": 0, "retries": 0, "rate_limited": 0, "errors": 0}

    @property
    def _lark(self):
        """lark-oapi's core (RequestOption, BaseRequest, HttpMethod, AccessTokenType)."""
        load_sdk()  # lazy: see module docstring
        import lark_oapi.core

        return lark_oapi.core

    @property
    def client(self):
        """The SDK client, built (and lark-oapi's needed parts imported) on the first call
        to Feishu: a `dutybot tick` with nothing to send never pays for it."""
        if self._client is None:
            from bot.feishu import httpx_pool, sdk

            sdk.load()
            httpx_pool.install()  # one pooled connection per loop, not a new client per call
            self._client = sdk.Client(self._app_id, self._app_secret, self.domain, self._timeout)
        return self._client

    async def _call(self, fn, *, receiver: str | None, what: str, limits: SendLimits | None = None):
        """Run one SDK call with our token, limits (the messages' unless an API has its
        own) and retry rules; return the response."""
        limits = limits or self.limits
        refreshed = False
        last: FeishuError | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.stats["retries"] += 1
            token = await self.tokens.get()
            option = self._lark.RequestOption.builder().tenant_access_token(token).build()
            try:
                resp = await _counted(limits, receiver, fn, option)
            except (TimeoutError, ValueError, OSError) as exc:
                # Non-JSON bodies (gateway HTML) raise JSONDecodeError; network errors OSError.
                last = FeishuError(-1, f"{what}: {type(exc).__name__}: {exc}", retryable=True)
                await self._pause(attempt, _jitter(attempt))
                continue
            except Exception as exc:  # httpx errors are not OSError subclasses
                if type(exc).__module__.startswith("httpx"):
                    last = FeishuError(-1, f"{what}: {type(exc).__name__}", retryable=True)
                    await self._pause(attempt, _jitter(attempt))
                    continue
                raise
            raw = resp.raw
            status = raw.status_code if raw else 0
            code, msg = _code_and_msg(resp)
            if code == 0 and (status or 200) < 400:
                return resp
            log_id = _header(raw.headers if raw else None, "x-tt-logid")
            if code in TOKEN_INVALID and not refreshed:
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if status == 429 or code == RATE_LIMITED:
                self.stats["rate_limited"] += 1
                reset = _header(raw.headers if raw else None, "x-ogw-ratelimit-reset")
                wait = float(reset) if reset and reset.replace(".", "", 1).isdigit() else 1.0
                last = FeishuError(
                    code, msg, status=status, retryable=True, retry_after=wait, log_id=log_id
                )
                if wait > MAX_INLINE_WAIT:
                    break
                await self._pause(attempt, wait)
                continue
            if code == FREQUENCY_LIMITED or status >= 500:
                self.stats["rate_limited"] += code == FREQUENCY_LIMITED
                last = FeishuError(code, msg, status=status, retryable=True, log_id=log_id)
                await self._pause(attempt, 1.0 if code == FREQUENCY_LIMITED else _jitter(attempt))
                continue
            self.stats["errors"] += 1
            raise FeishuError(code, msg, status=status, log_id=log_id)
        self.stats["errors"] += 1
        raise last or FeishuError(-1, f"{what}: gave up", retryable=True)

    async def _pause(self, attempt: int, seconds: float) -> None:
        """Wait before the next inline try; after the last one the outbox schedules the retry."""
        if attempt + 1 < self.attempts:
            await asyncio.sleep(seconds)

    async def send(
        self, receive_id_type: str, receive_id: str, msg_type: str, content: str, uuid: str
    ) -> str:
        """Send a message; returns its message_id."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

        body = (
            CreateMessageRequestBody.builder()
            .receive_id(receive_id)
            .msg_type(msg_type)
            .content(content)
            .uuid(uuid)
            .build()
        )
        req = (
            CreateMessageRequest.builder()
            .receive_id_type(receive_id_type)
            .request_body(body)
            .build()
        )
        resp = await self._call(
            lambda o: self.client.im.v1.message.acreate(req, o), receiver=receive_id, what="send"
        )
        self.stats["sent"] += 1
        return resp.data.message_id

    async def reply(
        self, message_id: str, msg_type: str, content: str, uuid: str, *, chat_id: str | None = None
    ) -> str:
        """Reply to a message; returns the reply's message_id."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.im.v1 import ReplyMessageRequest, ReplyMessageRequestBody

        body = (
            ReplyMessageRequestBody.builder().msg_type(msg_type).content(content).uuid(uuid).build()
        )
        req = ReplyMessageRequest.builder().message_id(message_id).request_body(body).build()
        resp = await self._call(
            lambda o: self.client.im.v1.message.areply(req, o), receiver=chat_id, what="reply"
        )
        self.stats["sent"] += 1
        return resp.data.message_id

    async def patch(self, message_id: str, content: str) -> None:
        """Replace a shared card in place (within 14 days, 5 QPS per message)."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.im.v1 import PatchMessageRequest, PatchMessageRequestBody

        body = PatchMessageRequestBody.builder().content(content).build()
        req = PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
        await self._call(
            lambda o: self.client.im.v1.message.apatch(req, o),
            receiver=f"patch:{message_id}",
            what="patch",
        )

    def warm(self) -> None:
        """Import what sending needs (lark-oapi's im service and models: ~0.5 s of CPU) now,
        at start, instead of inside the first send, where it held up the event loop."""
        load_sdk()
        import lark_oapi.api.im.v1  # noqa: F401 - the import is the point

        _ = self.client.im.v1.message

    async def _raw(
        self, method: str, uri: str, body: dict | None = None, receiver: str | None = None
    ) -> dict[str, Any]:
        lark = self._lark
        req = (
            lark.BaseRequest.builder()
            .http_method(getattr(lark.HttpMethod, method))
            .uri(uri)
            .token_types({lark.AccessTokenType.TENANT})
            .body(body)
            .build()
        )
        resp = await self._call(lambda o: self.client.arequest(req, o), receiver=receiver, what=uri)
        return json.loads(resp.raw.content or b"{}")

    async def delayed_update(self, token: str, card: dict) -> None:
        """Update the clicked card after answering the callback (token: 30 min, 2 uses)."""
        await self._raw(
            "POST", "/open-apis/interactive/v1/card/update", {"token": token, "card": card}
        )

    async def close(self) -> None:
        """Close the pooled HTTP connections of this loop (none if nothing was ever sent:
        then httpx is not even imported)."""
        pool = sys.modules.get("bot.feishu.httpx_pool")
        if pool is not None:
            await pool.close_shared_client()

    async def bot_info(self) -> BotInfo:
        """The bot's own open_id and name (GET /open-apis/bot/v3/info)."""
        data = await self._raw("GET", "/open-apis/bot/v3/info")
        bot = data.get("bot") or {}
        return BotInfo(open_id=str(bot.get("open_id", "")), app_name=str(bot.get("app_name", "")))

    async def call(
        self, fn, *, what: str, receiver: str | None = None, limits: SendLimits | None = None
    ):
        """Run another SDK call (`fn(option)`, e.g. the directory's) with our token, limits
        (`limits`: an API with its own budget, like Feishu Tasks) and retry rules; returns
        the SDK response."""
        return await self._call(fn, receiver=receiver, what=what, limits=limits)
