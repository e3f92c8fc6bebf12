"""Card button callbacks. Each returns the callback answer: a toast and/or a new card.

Authority is the callback's operator open_id, never a value carried in the button."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent
from bot.dispatch.router import Router
from cards.due import build_due_card
from cards.views import DueView
from handlers.views import member_view, task_views
from storage.members import get_member
from storage.tasks import list_open_tasks

router = Router(name="card_actions")


def toast(kind: str, zh: str, en: str) -> dict:
    """A callback answer showing a short message (Feishu picks the user's language)."""
    return {"toast": {"type": kind, "content": zh, "i18n": {"zh_cn": zh, "en_us": en}}}


def _lang(event: CardActionEvent) -> str:
    lang = event.value.get("l")
    return lang if lang in ("zh", "en") else "zh"


@router.action("due.refresh")
async def on_due_refresh(ctx: Ctx, event: CardActionEvent) -> dict:
    owner = event.value.get("o")
    if owner and owner != event.operator_open_id:
        return toast(
            "warning",
            "这是别人的待办列表。对我说「待办」查看你自己的。",
            "This is someone else's list. Ask me \"what's due\" for yours.",
        )
    member = await get_member(ctx.session, event.operator_open_id)
    if member is None:
        return toast(
            "error",
            "你还不在团队名单里，请联系管理员。",
            "You are not on the team yet; ask an admin.",
        )
    lang = _lang(event)
    view = DueView(
        member=await member_view(ctx, member, lang),
        now=ctx.local_now,
        tasks=await task_views(ctx, await list_open_tasks(ctx.session, member.open_id), lang),
        timezone=ctx.services.settings.timezone,
        scope=str(event.value.get("scope") or "all"),
    )
    return {
        **toast("success", "已刷新", "Refreshed"),
        "card": {"type": "raw", "data": build_due_card(view, lang)},
    }
