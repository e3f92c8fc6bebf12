"""Reports: submitting (form card or text), approving and rejecting on cards. (Issue #3.)"""

from __future__ import annotations

from bot.router import Router

router = Router(name="reports")
