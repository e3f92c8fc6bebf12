"""Task buttons on due, task and reminder cards: mark done, snooze. And the weekly progress
report's draft (registered with the reports handlers' PREFILL table).

Authority is the callback's operator open_id, never a value in the button: marking done is
for the assignee or an admin, snoozing for the assignee."""

from __future__ import annotations

import logging

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent
from bot.dispatch.router import Router
from bot.domain.reminders import next_working_morning
from bot.services.digests import weekly_progress_draft
from cards.actions import MarkDone, Snooze
from cards.answers import toast, with_card
from handlers.reports import PREFILL
from handlers.views import card_after
from storage.audit import audit
from storage.models import Task, TaskStatus
from storage.reminders import snooze_task
from storage.tasks import get_task, mark_done

log = logging.getLogger("dutybot.tasks")

router = Router(name="tasks")

WEEKLY_PROGRESS = "manager.weekly_progress"


async def _load(ctx: Ctx, task_id: int) -> tuple[Task | None, dict | None]:
    task = await get_task(ctx.session, task_id)
    if task is None:
        return None, toast(
            "warning",
            "找不到这个任务，请对我说「待办」刷新。",
            'Task not found; ask me "what\'s due" again.',
        )
    return task, None


def _name(ctx: Ctx, task: Task) -> tuple[str, str]:
    duty = ctx.policy_of(task.department).duties.get(task.duty_key)
    return (duty.name_zh, duty.name_en) if duty else (task.duty_key, task.duty_key)


@router.action(MarkDone)
async def on_done(ctx: Ctx, click: CardActionEvent, action: MarkDone) -> dict:
    task, problem = await _load(ctx, action.task_id)
    if task is None:
        return problem or {}
    operator = ctx.member
    if operator is None or (operator.open_id != task.assignee_open_id and not operator.is_admin):
        audit(
            ctx.session,
            at=ctx.now,
            action="task.done.refused",
            actor=ctx.asker,
            subject=f"task:{task.id}",
        )
        return toast(
            "warning",
            "只有任务负责人或管理员可以标记完成。",
            "Only the assignee or an admin can mark this task done.",
        )
    duty = ctx.policy_of(task.department).duties.get(task.duty_key)
    if duty is not None and duty.report is not None:
        return toast(
            "warning",
            "这个任务需要提交报告，不能直接标记完成。",
            "This task needs a report; it cannot just be marked done.",
        )
    zh, en = _name(ctx, task)
    if task.status not in (TaskStatus.OPEN, TaskStatus.REJECTED):
        return toast("info", f"「{zh}」已经处理过了。", f'"{en}" is already taken care of.')
    if not await mark_done(ctx.session, task, ctx.now):
        return toast("info", f"「{zh}」已经处理过了。", f'"{en}" is already taken care of.')
    audit(
        ctx.session,
        at=ctx.now,
        action="task.done",
        actor=ctx.asker,
        subject=f"task:{task.id}",
        duty=task.duty_key,
        assignee=task.assignee_open_id,
    )
    answer = toast("success", f"已完成：{zh}", f"Done: {en}")
    # The card clicked shows it at once: a what's-due list loses the task (and its counts
    # change); a reminder or task card says "done" where the buttons were.
    card = await card_after(ctx, click.open_message_id, task.id, ctx.t("✅ 已完成", "✅ Done"))
    return with_card(answer, card) if card else answer


@router.action(Snooze)
async def on_snooze(ctx: Ctx, click: CardActionEvent, action: Snooze) -> dict:
    task, problem = await _load(ctx, action.task_id)
    if task is None:
        return problem or {}
    if ctx.asker != task.assignee_open_id:
        return toast(
            "warning",
            "只有任务负责人可以推迟自己的提醒。",
            "Only the assignee can snooze their reminders.",
        )
    if task.status not in (TaskStatus.OPEN, TaskStatus.REJECTED):
        return toast("info", "这个任务已经不需要提醒了。", "This task needs no more reminders.")
    until = next_working_morning(ctx.policy, ctx.services.calendar, ctx.local_now)
    await snooze_task(ctx.session, task, until, ctx.now)
    audit(
        ctx.session,
        at=ctx.now,
        action="task.snoozed",
        actor=ctx.asker,
        subject=f"task:{task.id}",
        until=until.isoformat(),
    )
    local = until.astimezone(ctx.tz)
    answer = toast(
        "success",
        f"好的，{local:%m-%d %H:%M} 再提醒你（逾期升级不受影响）。",
        f"OK, I'll remind you again on {local:%b %d %H:%M} (escalation is not paused).",
    )
    note = ctx.t(f"⏰ {local:%m-%d %H:%M} 再提醒", f"⏰ until {local:%b %d %H:%M}")
    card = await card_after(
        ctx, click.open_message_id, task.id, note, relist=False, only=(Snooze.name,)
    )
    return with_card(answer, card) if card else answer


async def draft_weekly_progress(ctx: Ctx, task: Task) -> dict:
    """The weekly progress report's pre-filled fields: completion_rate (a fraction) and
    risks, for the task's week, from the same numbers as the weekly digest."""
    return await weekly_progress_draft(ctx.session, ctx.services, ctx.now, task)


PREFILL[WEEKLY_PROGRESS] = draft_weekly_progress
