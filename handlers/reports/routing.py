"""Pending approvals follow the team: when who approves a report changes (设置审批人, a
role change, someone removed, a team-file sync), the new approver gets the approval card
and the old card says who approves now. Authority itself is checked at click time
(`common.approver_now`); this moves the cards to where the decision now belongs."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from cards.notice import build_notice_card
from cards.report_cards import build_report_card
from handlers.reports.common import approver_now, load_duty
from handlers.reports.texts import say
from handlers.reports.views import report_view
from storage import reports as store
from storage.audit import audit
from storage.members import names_of
from storage.tasks import get_task


async def reroute_pending(ctx: Ctx) -> int:
    """Re-route every pending report whose approver is no longer the current one; returns
    how many moved. Writes go to ctx.session; the caller commits."""
    moved = 0
    for report in await store.pending_reports(ctx.session):
        task = await get_task(ctx.session, report.task_id)
        if task is None:
            continue
        duty = await load_duty(ctx, task.duty_key)
        now = await approver_now(ctx, report, duty)
        was = report.approver_open_id
        if now == was:
            continue
        old_card = report.approver_card_uuid
        await store.set_approver(ctx.session, report, now)
        view = await report_view(ctx, report, task, duty, ctx.lang)
        names = await names_of(ctx.session, {now or ""})
        if now:
            uuid = await ctx.send("open_id", now, build_report_card(view, ctx.lang))
            await store.set_card_uuids(ctx.session, report, approver_card=uuid)
        if old_card:
            who_zh = names.get(now or "") or say("nobody", "zh")
            who_en = names.get(now or "") or say("nobody", "en")
            text = "\n".join(
                (
                    say("rerouted", "zh", duty=view.duty_name, author=view.author_name, who=who_zh),
                    say("rerouted", "en", duty=view.duty_name, author=view.author_name, who=who_en),
                )
            )
            title = f"{say('rerouted_title', 'zh')} · {say('rerouted_title', 'en')}"
            await ctx.patch(old_card, build_notice_card(title, text, ctx.lang, "grey"))
        audit(
            ctx.session,
            at=ctx.now,
            action="report.rerouted",
            actor=ctx.asker or "system",
            subject=f"report:{report.id}",
            previous=was,
            approver=now,
        )
        moved += 1
    return moved
