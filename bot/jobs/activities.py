"""Activities: creating one plans its chain of tasks from the policy's activity duties;
moving it re-plans the open ones; cancelling it cancels them. New work is announced.

Who gets an activity duty (by the duty's role):

1. the owner (the planner who runs the activity), when the duty is of the owner's role;
2. the owner's manager (team file override, else by role), when the duty is of that role;
3. otherwise every active member holding the duty's role (e.g. the digital specialist(s)).

Due dates come from `bot.domain.schedule.activity_due` (calendar-day "before" deadlines on a day
off move to the previous working day; "after" ones to the next; working-day offsets count
working days). A deadline that has already passed when the activity is created or moved
is due on the next working day instead (at the rule's time of day), and says so.

Messages (deterministic outbox uuids, so a retry never doubles them): each assignee gets
one card with their tasks for the activity; each team chat gets a plan summary."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dispatch.context import Services
from bot.domain.policy import Duty
from bot.domain.roster import Roster
from bot.domain.schedule import activity_due
from bot.jobs.calendar_notices import notify_unconfirmed_years
from cards.task_actions import ACTION_DONE, ACTION_REPORT
from cards.task_card import ActivityView, TaskLine, build_plan_summary_card, build_task_card
from storage import activities as store
from storage.audit import audit
from storage.members import list_team_chats, load_roster
from storage.models import Activity, Member, Task, TaskStatus
from storage.outbox import enqueue

MODES = ("offline", "online", "hybrid")
LANG = "zh"  # proactive messages: the team's language
MAX_TITLE = 200


class ActivityError(ValueError):
    """Bad input; `errors` lists every problem (shown to the person who asked)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class ActivityInput:
    title: str
    start: date
    end: date
    owner_open_id: str
    budget: float | None = None
    mode: str = "offline"
    expected_attendance: int | None = None


@dataclass(frozen=True)
class PlannedTask:
    duty: Duty
    assignee: Member
    due_at: datetime  # aware UTC, after clamping
    policy_due_at: datetime  # what the policy says
    clamped: bool


@dataclass
class ActivityChange:
    activity: Activity
    tasks: list[Task] = field(default_factory=list)  # the tasks created / re-planned / cancelled
    previous_due: dict[int, datetime] = field(default_factory=dict)  # task id -> old due (move)
    warnings: list[str] = field(default_factory=list)
    queued: int = 0  # messages queued


def action_for(duty: Duty | None) -> str:
    if duty is None:
        return ""
    return ACTION_REPORT if duty.report is not None else ACTION_DONE


def validate(data: ActivityInput, roster: Roster) -> list[str]:
    errors = []
    if not data.title.strip():
        errors.append("title is required / 请填写活动名称")
    elif len(data.title) > MAX_TITLE:
        errors.append(f"title is longer than {MAX_TITLE} characters / 活动名称过长")
    if data.end < data.start:
        errors.append(
            f"the end ({data.end}) is before the start ({data.start}) / 结束日期早于开始日期"
        )
    if data.mode not in MODES:
        errors.append(f"mode must be one of {', '.join(MODES)} / 形式应为线上、线下或线上+线下")
    if data.budget is not None and data.budget < 0:
        errors.append("budget must not be negative / 预算不能为负数")
    if data.expected_attendance is not None and data.expected_attendance < 0:
        errors.append("expected attendance must not be negative / 预计人数不能为负数")
    if roster.get(data.owner_open_id) is None:
        errors.append(
            f"owner {data.owner_open_id} is not an active team member / 负责人不在团队名单中"
        )
    return errors


def assignees_for(duty: Duty, owner: Member, roster: Roster) -> list[Member]:
    if duty.role == owner.role_key:
        return [owner]
    manager = roster.manager_of(owner)
    if manager is not None and manager.role_key == duty.role:
        return [manager]
    return roster.with_role(duty.role)


def due_for(
    duty: Duty, start: date, end: date, services: Services, now: datetime
) -> tuple[datetime, datetime, bool]:
    """(due, policy due, clamped): a deadline already past is due on the next working day."""
    tz = services.tz
    policy_due = activity_due(duty.due, start, end, tz, services.calendar)
    if policy_due >= now:
        return policy_due, policy_due, False
    today = now.astimezone(tz).date()
    day = services.calendar.add_workdays(today, 1)
    due = datetime.combine(day, duty.due.time, tzinfo=tz).astimezone(UTC)
    return due, policy_due, True


def plan(
    services: Services, roster: Roster, owner: Member, start: date, end: date, now: datetime
) -> tuple[list[PlannedTask], list[str]]:
    """The tasks an activity needs, and warnings for duties nobody can take."""
    planned, warnings = [], []
    for duty in services.policy.activity_duties():
        people = assignees_for(duty, owner, roster)
        if not people:
            warnings.append(
                f"no active member has the role {duty.role}: {duty.key} was not assigned"
            )
            continue
        due, policy_due, clamped = due_for(duty, start, end, services, now)
        for person in people:
            planned.append(PlannedTask(duty, person, due, policy_due, clamped))
    planned.sort(key=lambda p: (p.due_at, p.duty.key, p.assignee.open_id))
    return planned, warnings


def _years(start: date, end: date, tasks: list[Task], tz) -> set[int]:
    years = {start.year, end.year}
    years |= {t.due_at.astimezone(tz).year for t in tasks}
    return years


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
    roster = await load_roster(session, services.policy)
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
    planned, warnings = plan(services, roster, owner, data.start, data.end, now)
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
    if end < start:
        raise ActivityError(
            [f"the end ({end}) is before the start ({start}) / 结束日期早于开始日期"]
        )
    roster = await load_roster(session, services.policy)
    old = (activity.start_date, activity.end_date)
    activity.start_date, activity.end_date, activity.updated_at = start, end, now
    session.add(activity)
    change = ActivityChange(activity)
    for task in await store.activity_tasks(session, activity_id):
        duty = services.policy.duties.get(task.duty_key)
        if task.status != TaskStatus.OPEN or duty is None or duty.due.kind != "activity":
            continue
        due, _, _ = due_for(duty, start, end, services, now)
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
    roster = await load_roster(session, services.policy)
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
        action=action_for(duty),
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
    for chat in await list_team_chats(session):
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
