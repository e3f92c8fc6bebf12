"""Turning database rows into the view objects that card builders take."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from cards.notice import build_not_on_team_card
from cards.views import MemberView, TaskView
from storage.activities import activity_titles
from storage.members import first_member_with_role, get_duties, get_member, list_admins
from storage.models import Member, Task


def _name(row, lang: str) -> str:
    return row.name_en if lang == "en" else row.name_zh


async def member_view(ctx: Ctx, member: Member, lang: str) -> MemberView:
    """A member with role and manager names resolved."""
    role = ctx.policy.roles.get(member.role_key)
    manager = await resolve_manager(ctx, member)
    return MemberView(
        open_id=member.open_id,
        name=member.name,
        role_key=member.role_key,
        role_name=role.name(lang) if role else member.role_key,
        manager_name=manager.name if manager else None,
        manager_open_id=manager.open_id if manager else None,
        is_admin=member.is_admin,
    )


async def resolve_manager(ctx: Ctx, member: Member) -> Member | None:
    """Who approves this member's reports: the team file's `manager`, else the first active
    member holding the role this member's role reports to."""
    if member.manager_open_id:
        manager = await get_member(ctx.session, member.manager_open_id)
        if manager:
            return manager
    role = ctx.policy.roles.get(member.role_key)
    if role and role.reports_to:
        return await first_member_with_role(ctx.session, role.reports_to)
    return None


async def task_views(ctx: Ctx, tasks: list[Task], lang: str) -> tuple[TaskView, ...]:
    """Tasks with duty names and clauses (from the database, so retired duties still show)."""
    duties = await get_duties(ctx.session, {t.duty_key for t in tasks})
    titles = await activity_titles(ctx.session, {t.activity_id for t in tasks if t.activity_id})
    views = []
    for task in tasks:
        duty = duties.get(task.duty_key)
        policy_duty = ctx.policy.duties.get(task.duty_key)
        views.append(
            TaskView(
                task_id=task.id or 0,
                duty_key=task.duty_key,
                duty_name=_name(duty, lang) if duty else task.duty_key,
                due_at=task.due_at.astimezone(ctx.tz),
                clause=duty.clause if duty else "",
                status=task.status,
                period_label=task.period_key,
                activity_title=titles.get(task.activity_id) if task.activity_id else None,
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
