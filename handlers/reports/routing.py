"""Pending approvals follow the team: when who approves a report changes (设置审批人, a
role change, someone removed, a team-file sync), the new approver gets the approval card
and the old card says who approves now. Authority itself is checked at click time
(`common.approver_now`); this moves the cards to where the decision now belongs."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.dispatch.context import Ctx
from bot.domain.reminders import in_working_hours
from cards.elements import text_div
from cards.notice import build_notice_card
from cards.report_cards import build_report_card
from handlers.reports.common import approver_now, load_duty
from handlers.reports.texts import say
from handlers.reports.views import report_view
from handlers.views import resolve_manager
from storage import reports as store
from storage.audit import audit
from storage.members import get_member, names_of
from storage.outbox import queued_at
from storage.reminders import claim_marker
from storage.tasks import get_task


async def reroute_pending(ctx: Ctx) -> int:
    """Re-route every pending report whose approver is no longer the current one; returns
    how many moved. Writes go to ctx.session; the caller commits."""
    moved = 0
    for report in await store.pending_reports(ctx.session):
        task = await get_task(ctx.session, report.task_id)
        if task is None:
            continue
        duty = await load_duty(ctx, task.duty_key, task.department)
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


# Feishu lets us update a card for 14 days after sending it: a pending approval card older
# than this is sent again, so the decision still shows on the card the approver uses.
CARD_REFRESH = timedelta(days=13)


async def chase_pending(ctx: Ctx) -> int:
    """Pending approvals past the policy's approval window (working days since submission):
    the approver is reminded once (the card again, on top of their chat), then after a
    second window the approver's manager is told once. Cards close to Feishu's 14-day
    update limit are re-sent. Returns how many messages were queued."""
    window = ctx.policy.approval_window_workdays
    department = ctx.services.department  # None: every department (one policy)
    calendar = ctx.services.calendar
    today = ctx.local_now.date()
    queued = 0
    for report in await store.pending_reports(ctx.session):
        if not report.approver_open_id:
            continue
        approver = await get_member(ctx.session, report.approver_open_id)
        task = await get_task(ctx.session, report.task_id)
        if approver is None or task is None:
            continue
        if department is not None and task.department != department:
            continue  # another department's approval: its own window and working hours
        duty = await load_duty(ctx, task.duty_key, task.department)
        since = report.submitted_at.astimezone(ctx.tz).date()
        remind_on = calendar.add_workdays(since, window)
        escalate_on = calendar.add_workdays(remind_on, window)
        key = f"approval:{report.id}:v{report.version}"
        stale_card = await _card_is_old(ctx, report.approver_card_uuid)
        if (today >= remind_on or stale_card) and await claim_marker(
            ctx.session,
            f"{key}:card:{today.isoformat()}" if stale_card else f"{key}:remind",
            ctx.now,
        ):
            view = await report_view(ctx, report, task, duty, ctx.lang)
            card = build_report_card(view, ctx.lang)
            days = calendar.workdays_between(since, today)
            note = say("waiting", "zh", n=days) + "\n" + say("waiting", "en", n=days)
            card["body"]["elements"].insert(0, text_div(note, text_size="notation"))
            uuid = await ctx.send("open_id", approver.open_id, card)
            await store.set_card_uuids(ctx.session, report, approver_card=uuid)
            queued += 1
        if today >= escalate_on and await claim_marker(ctx.session, f"{key}:escalate", ctx.now):
            boss = await resolve_manager(ctx, approver)
            if boss is None or boss.open_id in (approver.open_id, report.author_open_id):
                continue
            view = await report_view(ctx, report, task, duty, ctx.lang)
            days = calendar.workdays_between(since, today)
            kw = {"duty": view.duty_name, "author": view.author_name, "who": approver.name}
            text = "\n".join(
                (say("escalated", "zh", n=days, **kw), say("escalated", "en", n=days, **kw))
            )
            title = f"{say('escalated_title', 'zh')} · {say('escalated_title', 'en')}"
            await ctx.send("open_id", boss.open_id, build_notice_card(title, text, "zh", "orange"))
            audit(
                ctx.session,
                at=ctx.now,
                action="report.escalated",
                actor="system",
                subject=f"report:{report.id}",
                approver=approver.open_id,
                to=boss.open_id,
            )
            queued += 1
    return queued


async def _card_is_old(ctx: Ctx, uuid: str | None) -> bool:
    if not uuid:
        return False
    sent = await queued_at(ctx.session, uuid)
    return sent is not None and ctx.now - sent >= CARD_REFRESH


async def tick_step(sessions, services, now: datetime) -> None:
    """The scheduler's approvals step (registered by the composition root): like every
    reminder, only on working days in working hours, department by department."""
    for view in services.departments():
        if not in_working_hours(view.policy, view.calendar, now.astimezone(view.tz)):
            continue
        source = f"approvals:{now.isoformat()}"
        if view.department is not None:
            source += f":{view.department}"
        async with sessions() as session:
            ctx = Ctx(session, now, view, source=source)
            await chase_pending(ctx)
            await session.commit()
