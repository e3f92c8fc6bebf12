"""Feishu Tasks, the other way (DUTYBOT_FEISHU_TASKS=on): someone ticks a mirrored task
off, or deletes it, in Feishu.

Feishu's event names the task and what changed, not who did it, so the task is read back
first (an event can arrive late, twice, or after our own change: only what Feishu holds
now counts). Only the assignee can edit a mirrored task (it is created with them as its
one member), so a completion there is theirs:
- work that is just marked done is done here too, as a mark-done click would make it;
- work that needs a report is not done until the report is in: the task is opened again
  in Feishu and the assignee is told how to submit it;
- a task deleted in Feishu is left alone there from then on (the work stays open here)."""

from __future__ import annotations

import logging

from bot.dispatch.context import Ctx
from bot.dispatch.events import FeishuTaskEvent
from bot.dispatch.router import Router
from storage import feishu_tasks as links
from storage.audit import audit
from storage.members import get_member
from storage.models import TaskStatus
from storage.tasks import mark_done

log = logging.getLogger("dutybot.feishu_tasks")

router = Router(name="feishu_tasks")

RELEVANT = {"task_completed_update", "task_deleted"}


@router.event("task.task.update_user_access_v2")
async def on_task_changed(ctx: Ctx, event: FeishuTaskEvent) -> None:
    await _changed(ctx, event)


@router.event("task.task.updated_v1")
async def on_task_updated_v1(ctx: Ctx, event: FeishuTaskEvent) -> None:
    await _changed(ctx, event)


async def _changed(ctx: Ctx, event: FeishuTaskEvent) -> None:
    tasks_api = ctx.services.feishu_tasks
    if tasks_api is None or not RELEVANT & set(event.changes):
        return
    found = await links.by_guid(ctx.session, event.guid)
    if found is None:
        return  # not a task DutyBot created
    link, task = found
    if link.closed:
        return  # finished here and there: our own completion coming back, say
    there = await tasks_api.get(event.guid)  # a Feishu error: the inbox tries again later
    subject = f"task:{task.id}"
    if there is None:
        await links.set_state(ctx.session, link.task_id, ctx.now, closed=True)
        audit(
            ctx.session, at=ctx.now, action="feishu_task.deleted", actor="feishu", subject=subject
        )
        return
    if there["completed_at"] in ("", "0") or task.status not in (
        TaskStatus.OPEN,
        TaskStatus.REJECTED,
    ):
        return  # open there (again), or already settled here: nothing to do
    duty = ctx.policy_of(task.department).duties.get(task.duty_key)
    if duty is not None and duty.report is not None:
        await links.set_state(ctx.session, link.task_id, ctx.now, reopen=True)
        audit(
            ctx.session, at=ctx.now, action="feishu_task.reopened", actor="feishu", subject=subject
        )
        # In the language the assignee last wrote to the bot in (else Chinese).
        member = await get_member(ctx.session, task.assignee_open_id)
        if getattr(member, "lang", None) == "en":
            note = (
                f'"{duty.name_en}" is done once its report is in, so I opened it again in '
                f'Feishu Tasks. Say "submit {duty.name_en}" to me to fill it in.'
            )
        else:
            note = (
                f"「{duty.name_zh}」要提交报告才算完成，我已在飞书任务里把它恢复为未完成。"
                f"对我说「提交{duty.name_zh}」即可填写。"
            )
        await ctx.send("open_id", task.assignee_open_id, note, msg_type="text")
        return
    if await mark_done(ctx.session, task, ctx.now):
        await links.set_state(ctx.session, link.task_id, ctx.now, closed=True)
        audit(
            ctx.session,
            at=ctx.now,
            action="task.done",
            actor=task.assignee_open_id,
            subject=subject,
            duty=task.duty_key,
            assignee=task.assignee_open_id,
            via="feishu_tasks",
        )
