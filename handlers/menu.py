"""The bot menu (`application.bot.menu_v6`): each item is answered as if the person had
typed the matching words in their private chat with the bot; the answer goes to them by
open_id (a menu click carries no chat). Keys are set in the developer console (README)."""

from __future__ import annotations

import dataclasses
import re

from bot.dispatch.context import Ctx
from bot.dispatch.events import MenuEvent, MessageEvent
from bot.dispatch.router import Intent, Router
from handlers import messages
from handlers.reports.lists import on_pending
from handlers.reports.submit import on_submit

router = Router(name="menu")

LANG = "zh"  # a menu click has no words to tell the language; the team's own is Chinese

# menu key -> (intent, the words a person would have typed, the handler that answers them)
ITEMS = {
    "due": ("due", "待办", messages.on_due),
    "submit": ("report.submit", "提交报告", on_submit),
    "approvals": ("report.pending", "待审批", on_pending),
    "help": ("help", "帮助", messages.on_help),
}

UNKNOWN_TEXT = (
    "这个菜单项我还不认识（{key}）。可用的菜单键：due（待办）、submit（提交报告）、"
    "approvals（待审批）、help（帮助）；也可以直接发消息「帮助」。\n"
    "I don't know this menu item ({key}). Menu keys I answer: due, submit, approvals, help; "
    'or just send me "help".'
)


@router.event("application.bot.menu_v6")
async def on_menu(ctx: Ctx, event: MenuEvent) -> None:
    item = ITEMS.get(event.event_key)
    if item is None:
        key = re.sub(r"[^\w.-]", "", event.event_key)[:40] or "—"  # never markup in a text
        await ctx.send("open_id", event.operator_open_id, UNKNOWN_TEXT.format(key=key), "text")
        return
    intent, words, handler = item
    asked = MessageEvent(
        event_id=event.event_id,
        message_id="",
        chat_id="",  # no chat: Ctx.answer sends to the asker by open_id
        chat_type="p2p",
        sender_open_id=event.operator_open_id,
        message_type="text",
        text=words,
    )
    asking = dataclasses.replace(ctx, event=asked, lang=LANG)  # the same session and asker
    await handler(asking, asked, Intent(intent, LANG, "all", words))
