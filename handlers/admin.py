"""Managing the team in chat (admins only) and joining a group.

绑定 @张三 市场策划专员 / "assign @Zhang planner"; 设置审批人 @张三 @李四 / "set approver
@Zhang @Li"; 移除 @张三 / "remove @Zhang". People are named by @-mention (in a group) or
by open_id (ou_…, e.g. in a private chat). Leave is handled with the reminders."""

from __future__ import annotations

import re

from bot.dispatch.context import Ctx
from bot.dispatch.events import BotAddedEvent, CardActionEvent, MessageEvent
from bot.dispatch.router import Intent, Router
from bot.domain.handoff import REMOVED
from bot.domain.policy import Role
from cards.actions import MakeTeamChat
from cards.admin import build_intro_card, build_team_change_card, build_team_chat_card
from cards.answers import toast, with_card
from handlers.people import hand_off, role_changed
from handlers.reports.routing import reroute_pending
from storage.audit import audit
from storage.members import add_chat, get_chat, get_member, save_member
from storage.models import Member
from storage.tasks import ensure_periodic_tasks

router = Router(name="admin")

OPEN_ID = re.compile(r"\bou_[0-9a-z]+\b")
TEXT: dict[str, tuple[str, str]] = {  # (zh, en)
    "not_admin": (
        "只有管理员可以修改团队。请联系管理员。",
        "Only admins can change the team; please ask an admin.",
    ),
    "assign_usage": (
        "用法：绑定 @张三 市场策划专员（角色可用中文名、英文名或代号：{roles}）",
        "Usage: assign @Zhang planner (role by Chinese or English name or key: {roles})",
    ),
    "approver_usage": ("用法：设置审批人 @成员 @审批人", "Usage: set approver @member @approver"),
    "remove_usage": ("用法：移除 @张三", "Usage: remove @Zhang"),
    "not_member": ("{name} 不在团队中。", "{name} is not on the team."),
    "other_department": (
        "{name} 属于另一个部门（{department}），请由该部门的管理员操作。",
        "{name} is in another department ({department}); ask that department's admin.",
    ),
}


async def _other_department(ctx: Ctx, *members: Member | None) -> bool:
    """An admin changes their own department's team only: say so for a member of another
    department (True)."""
    for member in members:
        if member is not None and member.department != ctx.department:
            text = ctx.t(*TEXT["other_department"])
            await ctx.answer(
                text.format(name=member.name, department=member.department), msg_type="text"
            )
            return True
    return False


def _people(event: MessageEvent) -> list[tuple[str, str]]:
    """(open_id, name) of the people a message names, bot excluded, in order."""
    found = [
        (m.open_id, m.name) for m in event.mentions if m.open_id and f"@{m.name}" in event.text
    ]
    found += [(oid, oid) for oid in OPEN_ID.findall(event.text) if oid not in {p[0] for p in found}]
    return found


def _role_in(text: str, roles: dict[str, Role]) -> Role | None:
    lowered = text.lower()
    best: tuple[int, Role] | None = None
    for role in roles.values():
        for label in (role.name_zh, role.name_en.lower(), role.key):
            if label and label in lowered and (best is None or len(label) > best[0]):
                best = (len(label), role)
    return best[1] if best else None


async def require_admin(
    ctx: Ctx, event: MessageEvent, refusal: tuple[str, str] = TEXT["not_admin"]
) -> Member | None:
    """The asker, if they are an admin now; otherwise the refusal (zh, en) is the answer,
    the attempt is audited, and None."""
    actor = ctx.member
    if actor is None or not actor.is_admin:
        audit(
            ctx.session,
            at=ctx.now,
            action="team.refused",
            actor=event.sender_open_id,
            subject=event.message_id,
            text=event.text[:200],
        )
        await ctx.answer(ctx.t(*refusal), msg_type="text")
        return None
    return actor


async def _reroute(ctx: Ctx) -> list[str]:
    """Pending approvals follow the change; a line saying how many moved, if any."""
    await ctx.session.flush()
    moved = await reroute_pending(ctx)
    if not moved:
        return []
    return [ctx.t(f"{moved} 份待审批报告已转给新的审批人", f"{moved} pending report(s) re-routed")]


@router.message("team.assign", keywords=("绑定", "分配角色", "assign", "add member"))
async def on_assign(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    lang = intent.lang
    actor = await require_admin(ctx, event)
    if actor is None:
        return
    people, role = _people(event), _role_in(event.text, ctx.policy.roles)
    if len(people) != 1 or role is None:
        roles = ", ".join(r.key for r in ctx.policy.roles.values())
        await ctx.answer(ctx.t(*TEXT["assign_usage"]).format(roles=roles), msg_type="text")
        return
    open_id, name = people[0]
    if await _other_department(ctx, await get_member(ctx.session, open_id)):
        return
    member, previous = await save_member(
        ctx.session,
        open_id=open_id,
        name=name,
        role_key=role.key,
        now=ctx.now,
        department=ctx.department,
    )
    await ctx.session.flush()
    handed = []
    if previous and previous != role.key:
        # The old role's open work goes to its successor or their manager (hand-off card).
        handed = [(await role_changed(ctx, member, previous)).line(ctx)]
    created = await ensure_periodic_tasks(
        ctx.session,
        ctx.policy,
        ctx.services.calendar,
        ctx.tz,
        ctx.now,
        [open_id],
        department=ctx.department,
    )
    audit(
        ctx.session,
        at=ctx.now,
        action="member.assigned",
        actor=actor.open_id,
        subject=open_id,
        role=role.key,
        previous=previous,
        card=event.message_id,
    )
    if previous is None:
        line = ctx.t(
            f"已把 {member.name} 加入团队，角色：{role.name_zh}",
            f"Added {member.name} as {role.name_en}",
        )
    else:
        was = ctx.policy.roles.get(previous)
        line = ctx.t(
            f"{member.name} 的角色：{was.name_zh if was else previous} → {role.name_zh}",
            f"{member.name}: {was.name_en if was else previous} → {role.name_en}",
        )
    tasks = ctx.t(f"新建周期任务 {created} 项", f"{created} periodic tasks created")
    lines = [line, tasks, *handed, *await _reroute(ctx)]
    await ctx.answer(build_team_change_card(lines, actor.name, lang))


@router.message("team.approver", keywords=("设置审批人", "审批人设为", "set approver"))
async def on_set_approver(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    lang = intent.lang
    actor = await require_admin(ctx, event)
    if actor is None:
        return
    people = _people(event)
    if len(people) != 2:
        await ctx.answer(ctx.t(*TEXT["approver_usage"]), msg_type="text")
        return
    member = await get_member(ctx.session, people[0][0])
    approver = await get_member(ctx.session, people[1][0])
    missing = next(
        (name for (oid, name), m in zip(people, (member, approver), strict=True) if m is None), None
    )
    if missing or member.open_id == approver.open_id:
        await ctx.answer(
            ctx.t(*TEXT["not_member"]).format(name=missing or people[0][1]), msg_type="text"
        )
        return
    if await _other_department(ctx, member, approver):
        return
    member.manager_open_id, member.updated_at = approver.open_id, ctx.now
    ctx.session.add(member)
    audit(
        ctx.session,
        at=ctx.now,
        action="member.approver_set",
        actor=actor.open_id,
        subject=member.open_id,
        approver=approver.open_id,
        card=event.message_id,
    )
    line = ctx.t(
        f"{member.name} 的报告由 {approver.name} 审批",
        f"{approver.name} now approves {member.name}'s reports",
    )
    await ctx.answer(build_team_change_card([line, *await _reroute(ctx)], actor.name, lang))


@router.message("team.remove", keywords=("移除成员", "移除", "remove member", "remove"))
async def on_remove(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    lang = intent.lang
    actor = await require_admin(ctx, event)
    if actor is None:
        return
    people = _people(event)
    if len(people) != 1:
        await ctx.answer(ctx.t(*TEXT["remove_usage"]), msg_type="text")
        return
    member = await get_member(ctx.session, people[0][0])
    if member is None:
        await ctx.answer(ctx.t(*TEXT["not_member"]).format(name=people[0][1]), msg_type="text")
        return
    if await _other_department(ctx, member):
        return
    member.active, member.updated_at = False, ctx.now
    ctx.session.add(member)
    audit(
        ctx.session,
        at=ctx.now,
        action="member.removed",
        actor=actor.open_id,
        subject=member.open_id,
        card=event.message_id,
    )
    line = ctx.t(
        f"已将 {member.name} 移出团队（任务记录保留）",
        f"Removed {member.name} from the team (their task history is kept)",
    )
    handed = await hand_off(ctx, member, REMOVED)
    lines = [line, handed.line(ctx), *await _reroute(ctx)]
    await ctx.answer(build_team_change_card(lines, actor.name, lang))


@router.event("im.chat.member.bot.added_v1")
async def on_bot_added(ctx: Ctx, event: BotAddedEvent) -> None:
    """Introduce ourselves; offer the person who added us, if an admin, to make it a team chat."""
    adder = ctx.member
    chat = await get_chat(ctx.session, event.chat_id)
    if chat is None:
        await add_chat(ctx.session, event.chat_id, event.chat_name or event.chat_id, ctx.now)
    offer = bool(adder and adder.is_admin and not (chat and chat.is_team))
    await ctx.send(
        "chat_id", event.chat_id, build_intro_card("zh", chat_id=event.chat_id, offer_team=offer)
    )


@router.action(MakeTeamChat)
async def on_make_team(ctx: Ctx, click: CardActionEvent, action: MakeTeamChat) -> dict:
    actor = ctx.member
    if actor is None or not actor.is_admin:
        audit(
            ctx.session,
            at=ctx.now,
            action="team.refused",
            actor=ctx.asker,
            subject=click.open_message_id,
        )
        return toast(
            "error", "只有管理员可以设置团队群。", "Only admins can make this a team chat."
        )
    chat_id = click.open_chat_id or action.chat_id
    chat = await get_chat(ctx.session, chat_id)
    if chat is None:
        return toast("error", "找不到这个群。", "This chat is unknown.")
    chat.is_team, chat.active, chat.updated_at = True, True, ctx.now
    chat.department = ctx.department  # the admin's department's digests go here
    ctx.session.add(chat)
    audit(
        ctx.session,
        at=ctx.now,
        action="chat.made_team",
        actor=actor.open_id,
        subject=chat_id,
        card=click.open_message_id,
    )
    return with_card(toast("success", "已设为团队群", "Team chat set"), build_team_chat_card("zh"))
