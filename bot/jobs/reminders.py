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

A round reads only the tasks whose `next_action_at` has come (bot.domain.ladder), and
stores each one's next value after its cards are queued: the next step's morning, the next
working morning while someone is held back, or nothing once the ladder is done.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.dispatch.context import Services
from bot.domain.ladder import (
    GRACE_WORKDAYS,
    current_step,
    first_action_at,
    in_working_hours,
    next_action_after,
    next_working_morning,
    step_day,
    window,
)
from bot.domain.policy import Policy, ReminderStep
from bot.domain.roster import Roster
from bot.jobs.activities import LANG, action_for
from cards.reminder import OVERDUE, TODAY, UPCOMING, ReminderLine, ReminderView, build_reminder_card
from storage.activities import activity_titles
from storage.models import Member
from storage.outbox import enqueue
from storage.reminders import (
    claim_markers,
    existing_markers,
    marker_key,
    recheck_open_tasks,
    set_next_actions,
    tasks_due_now,
)

__all__ = [  # the ladder's pure rules, re-exported for the handlers that use them
    "GRACE_WORKDAYS",
    "current_step",
    "in_working_hours",
    "next_working_morning",
    "step_day",
    "window",
]

log = logging.getLogger("dutybot.reminders")


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


@dataclass
class RoundPlan:
    by_recipient: dict[str, list[Planned]]
    # (task id, next_action_at as read, its next value) for every task the round looked at
    next_actions: list[tuple[int, datetime | None, datetime | None]]


async def plan_round(session, services: Services, roster: Roster, now: datetime) -> RoundPlan:
    """Everything that should go out now, by recipient, minus what was already sent; and
    when each task looked at needs the next round."""
    policy, calendar, tz = services.policy, services.calendar, services.tz
    steps = policy.reminders
    if not steps:
        return RoundPlan({}, [])
    local_now = now.astimezone(tz)
    today = local_now.date()
    oldest = calendar.add_workdays(today, -(max(steps[-1].offset, 0) + GRACE_WORKDAYS))
    tasks = await tasks_due_now(session, now)
    titles = await activity_titles(session, {t.activity_id for t in tasks if t.activity_id})
    plans: dict[str, list[Planned]] = defaultdict(list)
    next_actions: list[tuple[int, datetime | None, datetime | None]] = []
    for task in tasks:
        assignee = roster.get(task.assignee_open_id)
        due_local = task.due_at.astimezone(tz)
        due_date = due_local.date()
        if assignee is None or due_date < oldest:  # gone, or past the ladder and its grace
            next_actions.append((task.id, task.next_action_at, None))
            continue
        if roster.on_leave(assignee.open_id, due_date):  # excused: flagged in digests
            tomorrow = next_working_morning(policy, calendar, local_now)  # leave may change
            later = next_action_after(policy, calendar, due_date, local_now, retry_at=tomorrow)
            next_actions.append((task.id, task.next_action_at, later))
            continue
        index = current_step(steps, due_date, today, calendar)
        if index is None:
            first = first_action_at(policy, calendar, tz, task.due_at)
            next_actions.append((task.id, task.next_action_at, first))
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
        retry: datetime | None = None  # when someone held back may hear the then-current step
        for person in recipients_for(step, assignee, roster):
            mine = person.open_id == assignee.open_id
            if (mine and snoozed) or roster.on_leave(person.open_id, today):
                back = (
                    task.snoozed_until
                    if mine and snoozed
                    else next_working_morning(policy, calendar, local_now)
                )
                retry = back if retry is None else min(retry, back)
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
        later = next_action_after(policy, calendar, due_date, local_now, retry_at=retry)
        next_actions.append((task.id, task.next_action_at, later))
    sent = await existing_markers(session, [p.marker for ps in plans.values() for p in ps])
    result = {}
    for open_id, items in plans.items():
        left = [p for p in items if p.marker not in sent]
        if left:
            result[open_id] = left
    return RoundPlan(result, next_actions)


def ladder_marker(policy: Policy, roster: Roster) -> str:
    """A key for everything besides a task that decides who hears which step when: the
    ladder, working hours, the reporting lines and the team. When it changes, the tasks
    in the window are looked at again (a new manager hears the current step, as before)."""
    parts = [repr(policy.reminders), repr(policy.working_hours)]
    parts += sorted(f"{r.key}>{r.reports_to}" for r in policy.roles.values())
    parts += sorted(
        f"{m.open_id}|{m.role_key}|{m.manager_open_id}" for m in roster.members.values()
    )
    return "ladder:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


async def recheck_if_changed(session, services: Services, roster: Roster, now: datetime) -> None:
    """Once per ladder and team: make the tasks in the reminder window due for a look."""
    key = ladder_marker(services.policy, roster)
    if await existing_markers(session, [key]):
        return
    steps = services.policy.reminders
    if steps:
        today = now.astimezone(services.tz).date()
        lo, _ = window(steps, services.calendar, services.tz, today)
        await recheck_open_tasks(session, lo)
    await claim_markers(session, [key], now)
    await session.commit()


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
        await recheck_if_changed(session, services, roster, now)
        planned = await plan_round(session, services, roster, now)
    plans = planned.by_recipient
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
    # Only now that every card is queued: a crash before this looks at the tasks again.
    if planned.next_actions:
        async with sessions() as session:
            await set_next_actions(session, planned.next_actions)
            await session.commit()
    if stats.cards:
        log.info("reminders: %d card(s), %d item(s)", stats.cards, stats.items)
    return stats
