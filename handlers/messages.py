"""Chat messages: help, what's due, who am I, and a helpful answer to anything else."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from bot.dispatch.events import MessageEvent
from bot.dispatch.router import Intent, Router
from cards.due import build_due_card
from cards.help import build_help_card
from cards.notice import build_not_on_team_card
from cards.views import DueView
from cards.whoami import build_whoami_card
from handlers.views import member_view, task_views
from storage.members import get_member, list_admins, list_team_chats
from storage.models import Member
from storage.tasks import list_open_tasks

router = Router(name="messages")

UNKNOWN_TEXT = {
    "zh": "我没听懂这句话。可以说「待办」查看你的任务，或发送「帮助」看看我能做什么。",
    "en": 'Sorry, I didn\'t get that. Say "what\'s due" to see your tasks, or "help" for what I can do.',
}


async def _member_or_explain(ctx: Ctx, event: MessageEvent, lang: str) -> Member | None:
    """The asker if they are on the team; otherwise answer politely with who the admins are."""
    member = await get_member(ctx.session, event.sender_open_id)
    if member is None:
        admins = [await member_view(ctx, a, lang) for a in await list_admins(ctx.session)]
        await ctx.answer(event, build_not_on_team_card(None, admins, lang))
    return member


# Registration order is matching order: who-am-I and help before the broad "due" words.
@router.message(
    "help", keywords=("帮助", "怎么用", "使用说明", "菜单", "help", "menu", "commands", "/start")
)
async def on_help(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await get_member(ctx.session, event.sender_open_id)
    card = build_help_card(
        intent.lang, is_member=member is not None, is_admin=bool(member and member.is_admin)
    )
    await ctx.answer(event, card)


@router.message(
    "due",
    scopes={
        "overdue": ("逾期", "超期", "过期", "overdue", "late"),
        "week": ("本周", "这周", "今天", "今日", "this week", "today"),
    },
    keywords=(
        "待办",
        "我的任务",
        "任务",
        "到期",
        "截止",
        "what's due",
        "whats due",
        "what is due",
        "todo",
        "to-do",
        "to do",
        "due",
        "tasks",
        "my tasks",
    ),
)
async def on_due(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await _member_or_explain(ctx, event, intent.lang)
    if member is None:
        return
    tasks = await list_open_tasks(ctx.session, member.open_id)
    view = DueView(
        member=await member_view(ctx, member, intent.lang),
        now=ctx.local_now,
        tasks=await task_views(ctx, tasks, intent.lang),
        timezone=ctx.services.settings.timezone,
        scope=intent.scope,
    )
    await ctx.answer(event, build_due_card(view, intent.lang))


@router.message("whoami", keywords=("我是谁", "我的角色", "whoami", "who am i", "my role"))
async def on_whoami(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await _member_or_explain(ctx, event, intent.lang)
    if member is None:
        return
    role = ctx.policy.roles.get(member.role_key)
    chats = [c.name for c in await list_team_chats(ctx.session)]
    card = build_whoami_card(
        await member_view(ctx, member, intent.lang),
        intent.lang,
        team_chats=chats,
        reports_to_label=role.reports_to_label if role and not role.reports_to else None,
    )
    await ctx.answer(event, card)


@router.message("unknown")
async def on_unknown(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    await ctx.answer(event, UNKNOWN_TEXT[intent.lang], msg_type="text")
