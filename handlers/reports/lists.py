"""Report lists in chat: 我的报告 / "my reports" (the asker's, with status) and 待审批 /
"pending approvals" (what waits for the asker's decision, oldest first)."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from bot.dispatch.events import MessageEvent
from bot.dispatch.router import Intent, Router
from bot.domain.reports import kpi_misses
from cards.report_cards import ReportItem, build_my_reports_card, build_pending_card
from handlers.reports.common import load_duty, local, period_label
from handlers.reports.submit import is_submission, on_submit
from handlers.reports.texts import say
from handlers.views import require_member
from storage import reports as store
from storage.people import shown_names

router = Router(name="reports.lists")


@router.message(
    "report.mine",
    keywords=("我的报告", "我的汇报", "我提交的", "报告状态", "my reports", "report status"),
)
async def on_my_reports(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    if is_submission(intent.text):
        await on_submit(ctx, event, intent)  # "提交我的报告" is a submission
        return
    member = await require_member(ctx)
    if member is None:
        return
    lang = ctx.lang
    reports = await store.by_author(ctx.session, member.open_id)
    tasks = await store.tasks_by_id(ctx.session, [r.task_id for r in reports])
    names = await shown_names(ctx.session, {r.approver_open_id or "" for r in reports}, lang)
    items = []
    for r in reports:
        task = tasks.get(r.task_id)
        duty = await load_duty(ctx, r.duty_key)
        items.append(
            ReportItem(
                report_id=r.id or 0,
                duty_name=duty.name(lang) if duty else r.duty_key,
                period=await period_label(ctx, task) if task else "",
                author_name=member.name,
                status=r.status,
                version=r.version,
                submitted_at=r.submitted_at.astimezone(ctx.tz),
                approver_name=names.get(r.approver_open_id or ""),
                decided_at=local(ctx, r.decided_at),
                comment=r.comment,
            )
        )
    await ctx.answer(build_my_reports_card(items, ctx.local_now, lang))


@router.message(
    "report.pending",
    keywords=(
        "待审批",
        "待我审批",
        "待批",
        "审批列表",
        "要审批",
        "需要审批",
        "pending approvals",
        "pending approval",
        "approvals",
        "to approve",
        "awaiting my approval",
    ),
)
async def on_pending(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await require_member(ctx)
    if member is None:
        return
    lang = ctx.lang
    reports = await store.pending_for(
        ctx.session, member.open_id, include_unassigned=member.is_admin
    )
    tasks = await store.tasks_by_id(ctx.session, [r.task_id for r in reports])
    names = await shown_names(ctx.session, {r.author_open_id for r in reports}, lang)
    items = []
    for r in reports:
        task = tasks.get(r.task_id)
        duty = await load_duty(ctx, r.duty_key)
        items.append(
            ReportItem(
                report_id=r.id or 0,
                duty_name=duty.name(lang) if duty else r.duty_key,
                period=await period_label(ctx, task) if task else "",
                author_name=names[r.author_open_id],
                status=r.status,
                version=r.version,
                submitted_at=r.submitted_at.astimezone(ctx.tz),
                kpi_misses=kpi_misses(store.loads(r.kpis, [])),
                late=bool(task and r.submitted_at > (task.original_due_at or task.due_at)),
                note=say("nobody", lang) if r.approver_open_id is None else None,
            )
        )
    await ctx.answer(build_pending_card(items, ctx.local_now, lang))
