"""Chat messages: help, what's due (and its refresh button), who am I, and a helpful
answer to anything else."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent, ChatEnteredEvent, MessageEvent
from bot.dispatch.router import Intent, Router
from cards.actions import RefreshDue
from cards.answers import toast, with_card
from cards.help import build_help_card
from cards.notice import build_not_on_team_card
from cards.whoami import build_whoami_card
from handlers import sla
from handlers.views import due_card, member_view, require_member
from storage.members import list_admins, list_team_chats
from storage.reminders import claim_marker

router = Router(name="messages")

UNKNOWN_TEXT = (
    "我没听懂这句话。可以说「待办」查看你的任务，或发送「帮助」看看我能做什么。",
    'Sorry, I didn\'t get that. Say "what\'s due" to see your tasks, or "help" for what I can do.',
)


# Registration order is matching order: who-am-I and help before the broad "due" words.
@router.message(
    "help", keywords=("帮助", "怎么用", "使用说明", "菜单", "help", "menu", "commands", "/start")
)
async def on_help(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = ctx.member
    card = build_help_card(
        ctx.lang, is_member=member is not None, is_admin=bool(member and member.is_admin)
    )
    await ctx.answer(card)


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
    member = await require_member(ctx)
    if member is None:
        return
    await ctx.answer(await due_card(ctx, member, intent.scope, ctx.lang))


@router.action(RefreshDue)
async def on_due_refresh(ctx: Ctx, click: CardActionEvent, action: RefreshDue) -> dict:
    if action.owner and action.owner != ctx.asker:
        return toast(
            "warning",
            "这是别人的待办列表。对我说「待办」查看你自己的。",
            "This is someone else's list. Ask me \"what's due\" for yours.",
        )
    if ctx.member is None:
        return toast(
            "error",
            "你还不在团队名单里，请联系管理员。",
            "You are not on the team yet; ask an admin.",
        )
    card = await due_card(ctx, ctx.member, action.scope, ctx.lang)
    return with_card(toast("success", "已刷新", "Refreshed"), card)


@router.message("whoami", keywords=("我是谁", "我的角色", "whoami", "who am i", "my role"))
async def on_whoami(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await require_member(ctx)
    if member is None:
        return
    role = ctx.policy.roles.get(member.role_key)
    chats = [c.name for c in await list_team_chats(ctx.session, ctx.scope)]
    card = build_whoami_card(
        await member_view(ctx, member, ctx.lang),
        ctx.lang,
        team_chats=chats,
        reports_to_label=role.reports_to_label if role and not role.reports_to else None,
    )
    await ctx.answer(card)


@router.message("unknown")
async def on_unknown(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    if await sla.offer_to_log(ctx, event):  # maybe a user's message, forwarded as a copy
        return
    await ctx.answer(ctx.t(*UNKNOWN_TEXT), msg_type="text")


@router.event("im.chat.access_event.bot_p2p_chat_entered_v1")
async def on_chat_entered(ctx: Ctx, event: ChatEnteredEvent) -> None:
    """A person opens their private chat with the bot for the first time: the help card
    (members), or who to ask and their open_id (everyone else). Once per person."""
    if not await claim_marker(ctx.session, f"greet:{event.operator_open_id}", ctx.now):
        return
    if ctx.member is None:
        admins = [await member_view(ctx, a, ctx.lang) for a in await list_admins(ctx.session)]
        card = build_not_on_team_card(None, admins, ctx.lang, event.operator_open_id)
    else:
        card = build_help_card(ctx.lang, is_member=True, is_admin=ctx.member.is_admin)
    await ctx.send("chat_id", event.chat_id, card)
