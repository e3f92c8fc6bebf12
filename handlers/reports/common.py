"""Lookups and checks the report handlers share: duties (live or retired), who approves,
who may read, and refusals written to the audit log."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from bot.dispatch.context import Ctx
from bot.domain.policy import Duty
from handlers.reports.texts import T, toast_of
from handlers.views import resolve_manager
from storage import reports as store
from storage.activities import activity_titles
from storage.audit import audit
from storage.members import first_member_with_role, get_duties, get_member
from storage.models import Member, Report, Task, TaskStatus, stored_key
from storage.outbox import sent_message_id
from storage.tasks import get_task

log = logging.getLogger("dutybot.reports")

CLOSED = (TaskStatus.APPROVED, TaskStatus.DONE, TaskStatus.CANCELLED)


def fmt(ctx: Ctx, dt: datetime | None, lang: str) -> str:
    from cards.i18n import format_day_time

    return format_day_time(dt.astimezone(ctx.tz), lang, ref=ctx.local_now) if dt else "—"


def local(ctx: Ctx, dt: datetime | None) -> datetime | None:
    return dt.astimezone(ctx.tz) if dt is not None else None


def closed_state(task: Task) -> tuple[str, str]:
    return T.get(f"state_{task.status}", (task.status, task.status))


async def load_duty(ctx: Ctx, key: str, department: str | None = None) -> Duty | None:
    """The duty from the policy of its department (a task's; the asker's when None), or
    from its database snapshot if the policy dropped it."""
    department = department or ctx.department
    policy = ctx.policy_of(department)
    duty = policy.duties.get(key)
    if duty is not None:
        return duty
    stored = stored_key(department, key)
    row = (await get_duties(ctx.session, {stored})).get(stored)
    if row is None:
        return None
    try:
        return Duty.from_json(json.loads(row.spec), policy.default_due_time)
    except Exception:
        log.warning("duty %s: cannot read its stored snapshot", key)
        return None


async def current_approver(ctx: Ctx, author: Member, duty: Duty) -> Member | None:
    """Who approves `author`'s report of `duty` now, from the team as it is and the policy:
    the policy's approver role, the team file's `manager` overriding the default; an active
    member of the author's department who is not the author, or None (approved outside the
    department)."""
    role_key = ctx.policy_of(author.department).approver_role_for(duty)
    if role_key is None:
        return None
    if duty.approver_role is None:
        approver = await resolve_manager(ctx, author)
    else:
        approver = await first_member_with_role(ctx.session, role_key, author.department)
    if approver is None or approver.open_id == author.open_id or not approver.active:
        return None
    return approver


async def period_label(ctx: Ctx, task: Task) -> str:
    """What a task covers: its activity's title, or its period ("2026-W49")."""
    if task.activity_id:
        title = (await activity_titles(ctx.session, {task.activity_id})).get(task.activity_id)
        if title is not None:
            return title
    return task.period_key if not task.period_key.startswith("act:") else ""


async def is_clicked_card(ctx: Ctx, uuid: Any, message_id: str) -> bool:
    """True if the outbox message `uuid` is the card that was clicked (so a value naming a
    card can be trusted to mean *this* card, never another one)."""
    if not isinstance(uuid, str) or not uuid or not message_id or len(uuid) > 50:
        return False
    _, sent_id = await sent_message_id(ctx.session, uuid)
    return sent_id == message_id


def refuse(ctx: Ctx, subject: str, reason: str, what: str) -> None:
    """A refused click is in the audit log: who, what, which card."""
    click = ctx.event
    audit(
        ctx.session,
        at=ctx.now,
        action="report.refused",
        actor=ctx.asker,
        subject=subject,
        what=what[:40],
        reason=reason,
        card=getattr(click, "open_message_id", ""),
        chat=getattr(click, "open_chat_id", ""),
    )


async def load_task(ctx: Ctx, task_id: int, what: str) -> tuple[Task, Duty] | dict:
    """The clicked task and its duty, if the clicker is its assignee and it has a report;
    else the toast that says why not."""
    task = await get_task(ctx.session, task_id)
    duty = await load_duty(ctx, task.duty_key, task.department) if task is not None else None
    if task is None or duty is None:
        refuse(ctx, f"task:{task_id}", "unknown task", what)
        return toast_of("warning", "unknown_task")
    if task.assignee_open_id != ctx.asker:
        refuse(ctx, f"task:{task.id}", "not the assignee", what)
        return toast_of("error", "not_your_task")
    if duty.report is None:
        return toast_of("info", "no_template")
    return task, duty


async def load_report(
    ctx: Ctx, report_id: int, what: str
) -> tuple[Report, Task, Duty | None] | dict:
    found = await store.report_and_task(ctx.session, report_id)
    if found is None:
        refuse(ctx, f"report:{report_id}", "unknown report", what)
        return toast_of("warning", "unknown_report")
    report, task = found
    return report, task, await load_duty(ctx, task.duty_key, task.department)


async def may_read(ctx: Ctx, report: Report, task: Task, duty: Duty | None) -> bool:
    """The author, the report's current approver, and admins (of its department) may read
    a report."""
    operator = ctx.asker
    if operator == report.author_open_id:
        return True
    if ctx.member is None:
        return False  # removed or never on the team
    if ctx.member.is_admin and ctx.department == task.department:
        return True
    return operator == await approver_now(ctx, report, duty)


async def approver_now(ctx: Ctx, report: Report, duty: Duty | None) -> str | None:
    """The open_id of whoever approves this report now (recomputed from the team as it is),
    or None when nobody in the department can."""
    author = await get_member(ctx.session, report.author_open_id)
    if author is None or duty is None:
        # The author left: their manager of record may still decide, if still on the team.
        if report.approver_open_id and await get_member(ctx.session, report.approver_open_id):
            return report.approver_open_id
        return None
    approver = await current_approver(ctx, author, duty)
    return approver.open_id if approver else None
