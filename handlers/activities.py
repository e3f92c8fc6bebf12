"""Activities and their task chains, task buttons (done, snooze). (Issue #4.)"""

from __future__ import annotations

from bot.router import Router

router = Router(name="activities")
