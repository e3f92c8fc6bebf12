"""Feishu's rate limits, as sliding windows on the emulator's business clock.

The app tier (50 per any 1 s and 1000 per any 60 s) is kept per API (Feishu limits are
"per API x per app"), so send and reply have separate budgets; only admitted requests consume
a slot. The per-receiver limit (5 per any 1 s) is shared by sends and replies to the same chat
(a user's p2p chat for user ids); card PATCH has 5 per any 1 s per message.

Windows read `Store.now()`, the injected clock plus `FeishuEmulator.advance()`, so a test
moves past a window with `emu.advance(1)` instead of sleeping."""

from __future__ import annotations

import math
from collections import deque

from bot.devtools.emulator.model import ApiError, AppConfig, Store

MSG_FREQ_APP = "request trigger frequency limit"
MSG_FREQ_IM = "This operation triggers the frequency limit."


class RateLimits:
    def __init__(self, store: Store, config: AppConfig) -> None:
        self.store = store
        self.config = config
        self.clear()

    def clear(self) -> None:
        self.app_windows: dict[str, tuple[deque[float], deque[float]]] = {}
        self.receiver_windows: dict[str, deque[float]] = {}
        self.patch_windows: dict[str, deque[float]] = {}

    def check_app(self, api: str) -> None:
        """The app tier for one API: HTTP 429 with x-ogw-ratelimit-* headers when full."""
        cfg = self.config
        if not cfg.limits_enabled:
            return
        now = self.store.now()
        sec, minute = self.app_windows.setdefault(api, (deque(), deque()))
        for window, span, limit in (
            (sec, 1.0, cfg.app_per_second),
            (minute, 60.0, cfg.app_per_minute),
        ):
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= limit:
                reset = max(1, math.ceil(window[0] + span - now))
                raise ApiError(
                    429,
                    99991400,
                    MSG_FREQ_APP,
                    {"x-ogw-ratelimit-limit": str(limit), "x-ogw-ratelimit-reset": str(reset)},
                )
        sec.append(now)
        minute.append(now)

    def check_receiver(self, chat_id: str) -> None:
        self._check_second(self.receiver_windows, chat_id, self.config.receiver_per_second)

    def check_patch(self, message_id: str) -> None:
        self._check_second(self.patch_windows, message_id, self.config.patch_per_second)

    def _check_second(self, table: dict[str, deque[float]], key: str, limit: int) -> None:
        if not self.config.limits_enabled:
            return
        now = self.store.now()
        window = table.setdefault(key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            raise ApiError(400, 230020, MSG_FREQ_IM)
        window.append(now)
