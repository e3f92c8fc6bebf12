"""Activities with I/O: creating one writes its chain of tasks (planned by
``bot.domain.activities``); moving it re-plans the open ones; cancelling it cancels them.
New work is announced: each assignee gets one card with their tasks for the activity, each
team chat a plan summary (deterministic outbox uuids, so a retry never doubles them)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dispatch.context import Services
from bot.domain.activities import (
    ActivityError,
    ActivityInput,
    check_dates,
    due_for,
    plan,
    validate,
    years_touched,
)
from bot.domain.departments import DEFAULT_DEPARTMENT
from bot.domain.roster import Roster
from bot.services.calendar_notices import notify_unconfirmed_years
from cards.task_card import ActivityView, TaskLine, build_plan_summary_card, build_task_card
from storage import activities as store
from storage.audit import audit
from storage.members import list_team_chats, load_roster
from storage.models import Activity, Member, Task, TaskStatus
from storage.outbox import enqueue

LANG = "zh"  # proactive messages: the team's language


@dataclass
class ActivityChange:
    activity: Activity
    tasks: list[Task] = field(default_factory=list)  # the tasks created / re-planned / cancelled
    previous_due: dict[int, datetime] = field(default_factory=dict)  # task id -> old due (move)
    warnings: list[str] = field(default_factory=list)
    queued: int = 0  # messages queued


async def _owners_department(session: AsyncSession, services: Services, owner: str) -> Services:
    """An activity runs in its owner's department: its policy, its people, its team chats
    (the services as they are without departments)."""
    if services.policies.is_single:
        return services
    member = await session.get(Member, owner)
    return services.for_department(member.department if member else DEFAULT_DEPARTMENT)


def _years(start: date, end: date, tasks: list[Task], tz) -> set[int]:
    return years_touched(start, end, [t.due_at.astimezone(tz).date() for t in tasks])


async def create_activity(
    session: AsyncSession,
    services: Services,
    now: datetime,
    data: ActivityInput,
    *,
    created_by: str | None,
    announce: bool = True,
) -> ActivityChange:
    """Create the activity, its tasks and their announcements. Does not commit."""
    services = await _owners_department(session, services, data.owner_open_id)
    roster = await load_roster(session, services.policy, services.department)
    errors = validate(data, roster)
    if errors:
        raise ActivityError(errors)
    owner = roster.members[data.owner_open_id]
    activity = await store.add_activity(
        session,
        Activity(
            title=data.title.strip(),
            mode=data.mode,
            start_date=data.start,
            end_date=data.end,
            budget=data.budget,
            expected_attendance=data.expected_attendance,
            owner_open_id=owner.open_id,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        ),
    )
    assert activity.id is not None
    planned, warnings = plan(
        services.policy, services.calendar, services.tz, roster, owner, data.start, data.end, now
    )
    rows = [
        {
            "duty_key": p.duty.key,
            "assignee_open_id": p.assignee.open_id,
            "period_key": store.period_key(activity.id),
            "activity_id": activity.id,
            "due_at": p.due_at,
            "status": TaskStatus.OPEN,
            "created_at": now,
            "updated_at": now,
            "department": services.department or DEFAULT_DEPARTMENT,
        }
        for p in planned
    ]
    tasks = await store.insert_activity_tasks(session, rows)
    clamped = {(p.duty.key, p.assignee.open_id): p.policy_due_at for p in planned if p.clamped}
    change = ActivityChange(activity, tasks, warnings=warnings)
    change.previous_due = {
        t.id: clamped[(t.duty_key, t.assignee_open_id)]
        for t in tasks
        if t.id is not None and (t.duty_key, t.assignee_open_id) in clamped
    }
    audit(
        session,
        at=now,
        action="activity.created",
        actor=created_by,
        subject=f"activity:{activity.id}",
        title=activity.title,
        start=data.start,
        end=data.end,
        owner=owner.open_id,
        tasks=len(tasks),
    )
    if announce:
        change.queued = await announce_change(session, services, roster, now, change, "new")
    await notify_unconfirmed_years(
        session, services.calendar, roster, _years(data.start, data.end, tasks, services.tz), now
    )
    return change


async def move_activity(
    session: AsyncSession,
    services: Services,
    now: datetime,
    activity_id: int,
    start: date,
    end: date,
    *,
    actor: str | None,
    announce: bool = True,
) -> ActivityChange:
    """New dates; open tasks are re-planned (submitted, approved, done work is kept)."""
    activity = await store.get_activity(session, activity_id)
    if activity is None:
        raise ActivityError([f"no activity {activity_id} / 没有编号为 {activity_id} 的活动"])
    if activity.status == "cancelled":
        raise ActivityError([f"activity {activity_id} is cancelled / 活动已取消"])
    if errors := check_dates(start, end):
        raise ActivityError(errors)
    services = await _owners_department(session, services, activity.owner_open_id)
    roster = await load_roster(session, services.policy, services.department)
    old = (activity.start_date, activity.end_date)
    activity.start_date, activity.end_date, activity.updated_at = start, end, now
    session.add(activity)
    change = ActivityChange(activity)
    for task in await store.activity_tasks(session, activity_id):
        duty = services.policy.duties.get(task.duty_key)
        if task.status != TaskStatus.OPEN or duty is None or duty.due.kind != "activity":
            continue
        due, _, _ = due_for(duty, start, end, services.tz, services.calendar, now)
        if due == task.due_at:
            continue
        change.previous_due[task.id] = task.due_at
        await store.set_task_due(session, task.id, due, now)
        task.due_at = due
        change.tasks.append(task)
    audit(
        session,
        at=now,
        action="activity.moved",
        actor=actor,
        subject=f"activity:{activity_id}",
        old=[d.isoformat() for d in old],
        new=[start.isoformat(), end.isoformat()],
        tasks=len(change.tasks),
    )
    if announce and change.tasks:
        change.queued = await announce_change(session, services, roster, now, change, "moved")
    await notify_unconfirmed_years(
        session, services.calendar, roster, _years(start, end, change.tasks, services.tz), now
    )
    return change


async def cancel_activity(
    session: AsyncSession,
    services: Services,
    now: datetime,
    activity_id: int,
    *,
    actor: str | None,
    announce: bool = True,
) -> ActivityChange:
    activity = await store.get_activity(session, activity_id)
    if activity is None:
        raise ActivityError([f"no activity {activity_id} / 没有编号为 {activity_id} 的活动"])
    if activity.status == "cancelled":
        return ActivityChange(activity)
    services = await _owners_department(session, services, activity.owner_open_id)
    roster = await load_roster(session, services.policy, services.department)
    open_before = [
        t
        for t in await store.activity_tasks(session, activity_id)
        if t.status in (TaskStatus.OPEN, TaskStatus.REJECTED)
    ]
    await store.cancel_open_tasks(session, activity_id, now)
    for t in open_before:
        t.status = TaskStatus.CANCELLED
    activity.status, activity.updated_at = "cancelled", now
    session.add(activity)
    change = ActivityChange(activity, open_before)
    audit(
        session,
        at=now,
        action="activity.cancelled",
        actor=actor,
        subject=f"activity:{activity_id}",
        tasks=len(open_before),
    )
    if announce:
        change.queued = await announce_change(session, services, roster, now, change, "cancelled")
    return change


# -- announcements ---------------------------------------------------------------------


def activity_view(activity: Activity, roster: Roster) -> ActivityView:
    return ActivityView(
        activity_id=activity.id or 0,
        title=activity.title,
        mode=activity.mode,
        start=activity.start_date,
        end=activity.end_date,
        owner_name=roster.name(activity.owner_open_id),
        budget=activity.budget,
        expected_attendance=activity.expected_attendance,
        status=activity.status,
    )


def task_line(
    task: Task, services: Services, roster: Roster, previous: datetime | None, clamped: bool
) -> TaskLine:
    duty = services.policy.duties.get(task.duty_key)
    tz = services.tz
    return TaskLine(
        task_id=task.id or 0,
        duty_name=duty.name(LANG) if duty else task.duty_key,
        due_at=task.due_at.astimezone(tz),
        status=task.status,
        action=duty.action if duty else "",
        clause=duty.clause if duty else "",
        assignee_name=roster.name(task.assignee_open_id),
        previous_due_at=previous.astimezone(tz) if previous else None,
        clamped=clamped,
    )


def _uuid(*parts: object) -> str:
    return "an" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:40]


async def announce_change(
    session: AsyncSession,
    services: Services,
    roster: Roster,
    now: datetime,
    change: ActivityChange,
    kind: str,
) -> int:
    """One card per assignee (their tasks) and a summary per team chat. Returns how many
    messages were queued."""
    activity = change.activity
    view = activity_view(activity, roster)
    local_now = now.astimezone(services.tz)
    version = activity.updated_at.isoformat() if activity.updated_at else ""
    clamped_ids = set(change.previous_due) if kind == "new" else set()
    lines_by_person: dict[str, list[TaskLine]] = {}
    all_lines = []
    for task in change.tasks:
        previous = change.previous_due.get(task.id) if kind == "moved" else None
        line = task_line(task, services, roster, previous, task.id in clamped_ids)
        all_lines.append(line)
        lines_by_person.setdefault(task.assignee_open_id, []).append(line)
    queued = 0
    for open_id, lines in sorted(lines_by_person.items()):
        if open_id not in roster.members:
            continue
        body = build_task_card(view, lines, LANG, kind=kind, now=local_now)
        queued += await enqueue(
            session,
            uuid=_uuid("act", activity.id, kind, version, open_id),
            now=now,
            kind="send",
            body=body,
            receive_id_type="open_id",
            receive_id=open_id,
        )
    for chat in await list_team_chats(session, services.department):
        body = build_plan_summary_card(view, all_lines, LANG, kind=kind, now=local_now)
        queued += await enqueue(
            session,
            uuid=_uuid("act", activity.id, kind, version, "chat", chat.chat_id),
            now=now,
            kind="send",
            body=body,
            receive_id_type="chat_id",
            receive_id=chat.chat_id,
        )
    return queued
