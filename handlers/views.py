"""Turning database rows into the view objects that card builders take."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from cards.actions import BadAction, RefreshDue
from cards.due import build_due_card
from cards.notice import build_not_on_team_card
from cards.task_actions import TASK_BUTTONS, button_values, mark_task
from cards.views import DueView, MemberView, TaskView
from storage.activities import activity_titles
from storage.cards import shown_card
from storage.members import first_member_with_role, get_duties, get_member, list_admins
from storage.models import Member, Task, stored_key
from storage.tasks import list_open_tasks


def _name(row, lang: str) -> str:
    return row.name_en if lang == "en" else row.name_zh


async def member_view(ctx: Ctx, member: Member, lang: str) -> MemberView:
    """A member with role and manager names resolved (in their department's policy)."""
    role = ctx.policy_of(member.department).roles.get(member.role_key)
    manager = await resolve_manager(ctx, member)
    return MemberView(
        open_id=member.open_id,
        name=member.name,
        role_key=member.role_key,
        role_name=role.name(lang) if role else member.role_key,
        manager_name=manager.name if manager else None,
        manager_open_id=manager.open_id if manager else None,
        is_admin=member.is_admin,
        department_name=""
        if ctx.services.policies.is_single
        else ctx.services.policies.department(member.department).name,
    )


async def resolve_manager(ctx: Ctx, member: Member) -> Member | None:
    """Who approves this member's reports: the team file's `manager`, else the first active
    member holding the role this member's role reports to."""
    if member.manager_open_id:
        manager = await get_member(ctx.session, member.manager_open_id)
        if manager:
            return manager
    role = ctx.policy_of(member.department).roles.get(member.role_key)
    if role and role.reports_to:
        return await first_member_with_role(ctx.session, role.reports_to, member.department)
    return None


async def task_views(ctx: Ctx, tasks: list[Task], lang: str) -> tuple[TaskView, ...]:
    """Tasks with duty names and clauses (from the database, so retired duties still show)."""
    duties = await get_duties(ctx.session, {stored_key(t.department, t.duty_key) for t in tasks})
    titles = await activity_titles(ctx.session, {t.activity_id for t in tasks if t.activity_id})
    views = []
    for task in tasks:
        duty = duties.get(stored_key(task.department, task.duty_key))
        policy_duty = ctx.policy_of(task.department).duties.get(task.duty_key)
        views.append(
            TaskView(
                task_id=task.id or 0,
                duty_key=task.duty_key,
                duty_name=_name(duty, lang) if duty else task.duty_key,
                due_at=task.due_at.astimezone(ctx.tz),
                clause=duty.clause if duty else "",
                status=task.status,
                # a task started in chat is named by what was logged, not its message id
                period_label="" if task.subject is not None else task.period_key,
                activity_title=titles.get(task.activity_id) if task.activity_id else task.subject,
                action=("report" if policy_duty.report else "done") if policy_duty else "",
            )
        )
    return tuple(views)


async def require_member(ctx: Ctx) -> Member | None:
    """The asker if they are on the team; otherwise answer politely with who the admins
    are (and the asker's open_id, for the admin who adds them)."""
    if ctx.member is None:
        admins = [await member_view(ctx, a, ctx.lang) for a in await list_admins(ctx.session)]
        await ctx.answer(build_not_on_team_card(None, admins, ctx.lang, ctx.asker))
    return ctx.member


async def due_card(ctx: Ctx, member: Member, scope: str, lang: str) -> dict:
    """A member's what's-due card as of now."""
    view = DueView(
        member=await member_view(ctx, member, lang),
        now=ctx.local_now,
        tasks=await task_views(ctx, await list_open_tasks(ctx.session, member.open_id), lang),
        timezone=ctx.services.settings.timezone,
        scope=scope,
    )
    return build_due_card(view, lang)


async def card_after(
    ctx: Ctx,
    message_id: str,
    task_id: int,
    note: str,
    *,
    relist: bool = True,
    only: tuple[str, ...] = TASK_BUTTONS,
) -> dict | None:
    """The card shown in `message_id` (one of ours) as it should look now that `task_id`
    changed: a what's-due list is rebuilt (`relist`: the task leaves it, the counts
    change); any other task card keeps its text, with `note` in place of that task's
    buttons. None when the message is not ours or does not show the task."""
    shown = await shown_card(ctx.session, message_id)
    if shown is None:
        return None
    if relist:
        value = next((v for v in button_values(shown) if v.get("a") == RefreshDue.name), None)
        try:
            refresh = RefreshDue.unpack(value) if value else None
        except BadAction:
            refresh = None
        owner = await get_member(ctx.session, refresh.owner) if refresh and refresh.owner else None
        if refresh is not None and owner is not None:
            return await due_card(ctx, owner, refresh.scope, refresh.lang or ctx.lang)
    return mark_task(shown, task_id, note, only=only)
