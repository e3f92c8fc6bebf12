"""The team digest on demand: 本周汇总 / 本月汇总 / 上周汇总 / "digest", "monthly digest",
"last week's digest". Managers (anyone a current member reports to) and admins only,
checked against the team as it is now; everyone else is told who can ask."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from bot.dispatch.events import MessageEvent
from bot.dispatch.router import Intent, Router
from bot.domain.digests import month_period, period_label, previous_period, week_period
from bot.domain.roster import Roster
from bot.services.digests import build_digest
from cards.digest import build_digest_card
from storage.audit import audit
from storage.members import load_roster

router = Router(name="digests")

TEXT = {
    "refused": {
        "zh": "团队汇总只对经理（有成员向你汇报）和管理员开放。你可以说「待办」查看自己的任务。",
        "en": 'The team digest is for managers (someone reports to you) and admins. Say "what\'s due" for your own tasks.',
    },
    "empty": {
        "zh": "{label}还没有任何到期、逾期或即将到期的事项。",
        "en": "Nothing was due, is overdue or is coming up for {label}.",
    },
}


def may_see_digest(roster: Roster, open_id: str) -> bool:
    """An active admin, or someone an active member reports to right now."""
    member = roster.get(open_id)
    if member is None:
        return False
    if member.is_admin:
        return True
    return any(
        (boss := roster.manager_of(m)) is not None and boss.open_id == open_id
        for m in roster.members.values()
        if m.open_id != open_id
    )


@router.message(
    "digest",
    scopes={
        "last_month": ("上月汇总", "上个月汇总", "last month's digest", "last month digest"),
        "last_week": ("上周汇总", "last week's digest", "last week digest"),
        "month": ("本月汇总", "月度汇总", "月汇总", "monthly digest", "month digest"),
    },
    keywords=("本周汇总", "周汇总", "团队汇总", "汇总", "weekly digest", "team digest", "digest"),
)
async def on_digest(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    services = ctx.services.view_of(ctx.department)  # the asker's department's digest
    roster = await load_roster(ctx.session, services.policy, services.department)
    if not may_see_digest(roster, event.sender_open_id):
        audit(
            ctx.session,
            at=ctx.now,
            action="digest.refused",
            actor=event.sender_open_id,
            subject=event.message_id,
        )
        await ctx.answer(TEXT["refused"][intent.lang], msg_type="text")
        return
    today = ctx.local_now.date()
    if intent.scope in ("month", "last_month"):
        period = month_period(today)
    else:
        period = week_period(today)
    if intent.scope.startswith("last_"):
        period = previous_period(period)
    data = await build_digest(ctx.session, services, roster, ctx.now, period, intent.lang)
    if data.view.is_empty:
        text = TEXT["empty"][intent.lang].format(label=period_label(period, intent.lang))
        await ctx.answer(text, msg_type="text")
        return
    await ctx.answer(build_digest_card(data.view, intent.lang))


__all__ = ["may_see_digest", "router"]
