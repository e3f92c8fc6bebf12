"""A merged forward's messages, read back from Feishu: its event carries only a
placeholder, so what the forwarded chat said is asked for when it is needed (to show it
when the bot asks what it is, and to keep it on the task it starts)."""

from __future__ import annotations

import asyncio
import logging

from bot.dispatch.context import Ctx
from bot.dispatch.events import content_text
from storage.members import names_of

log = logging.getLogger("dutybot.forwards")

FORWARD_CHARS = 4000  # what a task keeps of a forwarded chat (its card shows less)


async def forwarded_chat(ctx: Ctx, message_id: str, *, within: float) -> str | None:
    """The merged forward `message_id` as lines "name: text", oldest first; None when Feishu
    does not give them within `within` seconds (no `im:message:readonly` scope, an outage)
    or they hold no text (images, files): the caller then says whom to ask instead."""
    reader = ctx.services.messages
    if reader is None:
        return None
    try:
        async with asyncio.timeout(within):
            parts = await reader.merged(message_id)
    except Exception as exc:  # noqa: BLE001 - any failure: do without the text, and say why
        log.warning("merged forward %s not read: %s", message_id, exc or type(exc).__name__)
        return None
    names = await names_of(ctx.session, {p.sender_open_id for p in parts if p.sender_open_id})
    lines = []
    for part in parts:
        text = content_text(part.msg_type, part.content).strip()
        if text:
            who = names.get(part.sender_open_id or "") or ctx.t("用户", "user")
            lines.append(f"{who}: {text}")
    joined = "\n".join(lines)
    return joined[:FORWARD_CHARS] if joined else None
