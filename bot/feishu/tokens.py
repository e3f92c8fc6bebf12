"""The tenant_access_token, fetched asynchronously (lark-oapi fetches it with blocking
`requests`, even on its async calls, so we own it and hand it to the SDK per request).
aiohttp is imported on the first fetch: a `dutybot tick` with nothing to send never loads it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.logs import add_secret

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
# Feishu returns the same token while > 30 min remain; refresh 10 min early like the SDK.
REFRESH_EARLY = timedelta(minutes=10)


class TokenError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        self.code, self.msg = code, msg
        super().__init__(f"tenant_access_token: code {code}: {msg}")


class TenantTokenProvider:
    def __init__(
        self, domain: str, app_id: str, app_secret: str, clock: Clock, timeout: float = 10
    ) -> None:
        self._url = domain.rstrip("/") + TOKEN_PATH
        self._app_id, self._app_secret = app_id, app_secret
        self._clock = clock
        self._timeout = timeout
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TenantTokenProvider(app_id={self._app_id!r})"

    @property
    def has_token(self) -> bool:
        return (
            self._token is not None
            and self._expires_at is not None
            and self._clock.now() < self._expires_at
        )

    async def get(self) -> str:
        """A valid token; fetched once for concurrent callers."""
        if self.has_token:
            return self._token  # type: ignore[return-value]
        async with self._lock:
            if not self.has_token:
                await self._fetch()
            return self._token  # type: ignore[return-value]

    def invalidate(self, token: str | None = None) -> None:
        """Forget the token (Feishu said it is invalid), unless a newer one already replaced it."""
        if token is None or token == self._token:
            self._token = None

    async def _fetch(self) -> None:
        import aiohttp

        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout)) as http,
            http.post(
                self._url, json={"app_id": self._app_id, "app_secret": self._app_secret}
            ) as resp,
        ):
            try:
                data = await resp.json(content_type=None)
            except ValueError as exc:
                raise TokenError(-1, f"HTTP {resp.status}, not JSON") from exc
        if (
            not isinstance(data, dict)
            or data.get("code") != 0
            or not data.get("tenant_access_token")
        ):
            code = data.get("code", -1) if isinstance(data, dict) else -1
            raise TokenError(
                code, str(data.get("msg", "")) if isinstance(data, dict) else "bad answer"
            )
        expire = int(data.get("expire") or 7200)
        self._token = data["tenant_access_token"]
        add_secret(self._token)
        self._expires_at = self._clock.now() + timedelta(seconds=expire) - REFRESH_EARLY
