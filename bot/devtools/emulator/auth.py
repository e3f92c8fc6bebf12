"""Tenant access tokens: issue (`auth/v3/tenant_access_token/internal`), check on every
authenticated call, and the bot's own info (`bot/v3/info`)."""

from __future__ import annotations

import secrets

from bot.devtools.emulator.model import ApiError, AppConfig, Reply, Request, Route, Store

TOKEN_REUSE_MIN_REMAINING = 30 * 60  # Feishu returns the same token while >= 30 min remain

MSG_MISSING_TOKEN = (
    "Missing access token for authorization. Please make a request with token attached."
)
MSG_INVALID_TOKEN = (
    "Invalid access token for authorization. Please make a request with token attached."
)


class TenantAuth:
    """Issued tokens outlive `reset()`: the SDK caches them process-wide."""

    def __init__(self, store: Store, config: AppConfig) -> None:
        self.store = store
        self.config = config
        self.tokens: dict[str, float] = {}  # tenant token -> expiry (business time)
        self.last_token: str | None = None

    def routes(self) -> list[Route]:
        return [
            (
                "POST",
                "/open-apis/auth/v3/tenant_access_token/internal",
                "auth.tenant_token",
                self.h_token,
                False,
            ),
            ("GET", "/open-apis/bot/v3/info", "bot.info", self.h_bot_info, True),
        ]

    def issue(self, force_new: bool = False) -> tuple[str, int]:
        now = self.store.now()
        last = self.last_token
        if not force_new and last is not None and last in self.tokens:
            remaining = self.tokens[last] - now
            if remaining >= TOKEN_REUSE_MIN_REMAINING:
                return last, int(remaining)
        token = "t-" + secrets.token_hex(20)
        self.tokens[token] = now + self.config.token_ttl
        self.last_token = token
        self.store.stats["tokens_issued"] += 1
        return token, int(self.config.token_ttl)

    def revoke_all(self) -> None:
        self.tokens.clear()
        self.last_token = None

    def check(self, headers: dict[str, str]) -> None:
        value = headers.get("authorization", "")
        if not value.startswith("Bearer ") or not value[7:].strip():
            raise ApiError(400, 99991661, MSG_MISSING_TOKEN)
        expiry = self.tokens.get(value[7:].strip())
        if expiry is None or expiry <= self.store.now():
            raise ApiError(400, 99991663, MSG_INVALID_TOKEN)

    def h_token(self, req: Request) -> Reply:
        body = req.json if isinstance(req.json, dict) else None
        if body is None:
            raise ApiError(400, 10003, "invalid param")
        app_id, secret = body.get("app_id"), body.get("app_secret")
        if not isinstance(app_id, str) or not isinstance(secret, str) or not app_id or not secret:
            raise ApiError(400, 10003, "invalid param: app_id and app_secret are required")
        if app_id != self.config.app_id or secret != self.config.app_secret:
            raise ApiError(400, 10014, "app secret invalid")
        token, expire = self.issue()
        return Reply(200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire})

    def h_bot_info(self, req: Request) -> Reply:
        bot = {
            "open_id": self.config.bot_open_id,
            "app_name": self.config.app_name,
            "activate_status": 2,
            "avatar_url": "",
            "ip_white_list": [],
        }
        return Reply(200, {"code": 0, "msg": "ok", "bot": bot})
