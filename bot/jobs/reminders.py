"""Reminders and escalation: the policy's ladder applied to open tasks, one card per person
per round.

The ladder (`policy.reminders`, default −1 / 0 / +1 / +3 working days) says on which
working day relative to a task's due date a step applies and who hears about it. Rules:

* A step's day is ``add_workdays(due date, offset)`` (offset 0: the due date itself).
* Only the *current* step of a task is sent: the latest one whose day has come. A task
  created the day it is due gets "due today", not a late "heads up"; after an outage the
  catch-up is one message, not the whole ladder.
* Nothing is sent outside working hours (`policy.working_hours`) or on a day off: what
  falls there waits for the next working morning.
* Each (task, due date, step, recipient) is sent once (a `Marker`, written with the outbox
  row). A new due date (an activity moved, a rejected report) starts a new ladder.
* Snoozing a task (until the next working morning) holds back the assignee's own reminder
  only; the steps keep their days, so escalation to the manager and director goes on.
* Leave: a task due while its assignee is on leave is excused (no reminders); a recipient
  on leave today is skipped (they hear the then-current step when back).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.dispatch.context import Services
from bot.domain.policy import Policy, ReminderStep
from bot.domain.roster import Roster
from bot.domain.workcalendar import WorkCalendar
from bot.jobs.activities import LANG, action_for
from cards.reminder import OVERDUE, TODAY, UPCOMING, ReminderLine, ReminderView, build_reminder_card
from storage.activities import activity_titles
from storage.models import Member
from storage.outbox import enqueue
from storage.reminders import claim_markers, existing_markers, marker_key, tasks_due_between

log = logging.getLogger("dutybot.reminders")

GRACE_WORKDAYS = 5  # how long after the last step a missed step is still caught up


def step_day(due: date, offset: int, calendar: WorkCalendar) -> date:
    return due if offset == 0 else calendar.add_workdays(due, offset)


def current_step(
    steps: tuple[ReminderStep, ...], due: date, today: date, calendar: WorkCalendar
) -> int | None:
    """Index of the latest step whose day has come, or None."""
    found = None
    for i, step in enumerate(steps):
        if step_day(due, step.offset, calendar) <= today:
            found = i
    return found


def in_working_hours(policy: Policy, calendar: WorkCalendar, local_now: datetime) -> bool:
    start, end = policy.working_hours
    return calendar.is_workday(local_now.date()) and start <= local_now.time() < end


def next_working_morning(policy: Policy, calendar: WorkCalendar, local_now: datetime) -> datetime:
    """The start of working hours on the next working day after today (aware UTC)."""
    day = calendar.add_workdays(local_now.date(), 1)
    return datetime.combine(day, policy.working_hours[0], tzinfo=local_now.tzinfo).astimezone(UTC)


def window(
    steps: tuple[ReminderStep, ...], calendar: WorkCalendar, tz, today: date
) -> tuple[datetime, datetime]:
    """The due_at range a step can apply to today (a superset; filtered per task)."""
    offsets = [s.offset for s in steps]
    lo_day = calendar.add_workdays(today, -(max(max(offsets), 0) + GRACE_WORKDAYS))
    hi_day = calendar.add_workdays(today, -min(min(offsets), 0)) + timedelta(days=1)
    lo = datetime.combine(lo_day, time(0), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(hi_day, time(0), tzinfo=tz).astimezone(UTC)
    return lo, hi


@dataclass(frozen=True)
class Planned:
    marker: str
    line: ReminderLine
    mine: bool


@dataclass
class ReminderStats:
    outside_hours: bool = False
    cards: int = 0
    items: int = 0
    lost_races: int = 0
    recipients: list[str] = field(default_factory=list)


def recipients_for(step: ReminderStep, assignee: Member, roster: Roster) -> list[Member]:
    found: list[Member] = []
    for who in step.who:
        if who == "assignee":
            people = [assignee]
        elif who == "manager-of-assignee":
            manager = roster.manager_of(assignee)
            people = [manager] if manager else []
        else:
            people = roster.with_role(who)
        for person in people:
            if all(p.open_id != person.open_id for p in found):
                found.append(person)
    return found


async def plan_round(
    session, services: Services, roster: Roster, now: datetime
) -> dict[str, list[Planned]]:
    """Everything that should go out now, by recipient, minus what was already sent."""
    policy, calendar, tz = services.policy, services.calendar, services.tz
    steps = policy.reminders
    if not steps:
        return {}
    today = now.astimezone(tz).date()
    lo, hi = window(steps, calendar, tz, today)
    tasks = await tasks_due_between(session, lo, hi)
    titles = await activity_titles(session, {t.activity_id for t in tasks if t.activity_id})
    plans: dict[str, list[Planned]] = defaultdict(list)
    for task in tasks:
        assignee = roster.get(task.assignee_open_id)
        if assignee is None or task.id is None:
            continue
        due_local = task.due_at.astimezone(tz)
        due_date = due_local.date()
        if roster.on_leave(assignee.open_id, due_date):
            continue  # excused: flagged in digests, never chased
        index = current_step(steps, due_date, today, calendar)
        if index is None:
            continue
        step = steps[index]
        if now > task.due_at:
            stage, late = OVERDUE, max(0, calendar.workdays_between(due_date, today))
        elif today == due_date:
            stage, late = TODAY, 0
        else:
            stage, late = UPCOMING, 0
        duty = policy.duties.get(task.duty_key)
        snoozed = task.snoozed_until is not None and task.snoozed_until > now
        for person in recipients_for(step, assignee, roster):
            mine = person.open_id == assignee.open_id
            if (mine and snoozed) or roster.on_leave(person.open_id, today):
                continue
            line = ReminderLine(
                task_id=task.id,
                duty_name=duty.name(LANG) if duty else task.duty_key,
                due_at=due_local,
                stage=stage,
                late_workdays=late,
                status=task.status,
                action=action_for(duty),
                assignee_name=assignee.name,
                activity_title=titles.get(task.activity_id) if task.activity_id else None,
            )
            key = marker_key(task.id, due_date.isoformat(), step.key, person.open_id)
            plans[person.open_id].append(Planned(key, line, mine))
    sent = await existing_markers(session, [p.marker for ps in plans.values() for p in ps])
    result = {}
    for open_id, items in plans.items():
        left = [p for p in items if p.marker not in sent]
        if left:
            result[open_id] = left
    return result


def card_uuid(markers: list[str]) -> str:
    return "rm" + hashlib.sha256("\n".join(sorted(markers)).encode()).hexdigest()[:40]


async def send_round(
    sessions: async_sessionmaker, services: Services, now: datetime
) -> ReminderStats:
    """Plan this round and queue one card per person (each in its own transaction with
    its markers). Outside working hours or on a day off: nothing."""
    stats = ReminderStats()
    local_now = now.astimezone(services.tz)
    if not in_working_hours(services.policy, services.calendar, local_now):
        stats.outside_hours = True
        return stats
    async with sessions() as session:
        roster = await Roster.load(session, services.policy)
        plans = await plan_round(session, services, roster, now)
    for open_id in sorted(plans):
        items = plans[open_id]
        markers = [p.marker for p in items]
        view = ReminderView(
            name=roster.name(open_id),
            now=local_now,
            mine=tuple(p.line for p in items if p.mine),
            others=tuple(p.line for p in items if not p.mine),
        )
        async with sessions() as session:
            if not await claim_markers(session, markers, now):
                await session.rollback()
                stats.lost_races += 1
                continue
            await enqueue(
                session,
                uuid=card_uuid(markers),
                now=now,
                kind="send",
                # The assignee's own nudge, or a manager/director hearing of someone else's.
                purpose="reminder" if view.mine else "escalation",
                body=build_reminder_card(view, LANG),
                receive_id_type="open_id",
                receive_id=open_id,
            )
            await session.commit()
        stats.cards += 1
        stats.items += len(items)
        stats.recipients.append(open_id)
    if stats.cards:
        log.info("reminders: %d card(s), %d item(s)", stats.cards, stats.items)
    return stats
