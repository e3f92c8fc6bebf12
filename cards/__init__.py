"""Pure Card JSON 2.0 builders: no I/O, no storage, no Feishu client.

The names below load their module on first use (PEP 562): importing one builder, e.g.
`cards.elements` on the tick's path, does not import every card."""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "DueView": "cards.views",
    "MemberView": "cards.views",
    "TaskView": "cards.views",
    "build_due_card": "cards.due",
    "build_help_card": "cards.help",
    "build_not_on_team_card": "cards.notice",
    "build_notice_card": "cards.notice",
    "build_whoami_card": "cards.whoami",
    "escape_md": "cards.elements",
    "fit_card": "cards.elements",
    "truncate": "cards.elements",
    "validate_card": "cards.schema",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cards' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
