"""Reminders and escalation: the policy's ladder applied to open tasks, one card per person
per round. The ladder's arithmetic (step days, the current step, recipients, working
hours) is ``bot.domain.reminders``; this module reads the tasks and queues the cards.

* A task created the day it is due gets "due today", not a late "heads up".
* Outside working hours (`policy.working_hours`) or on a day off nothing is sent: what
  falls there waits for the next working morning.
* Each (task, due date, step, recipient) is sent once (a `Marker`, written with the outbox
  row). A new due date (an activity moved, a rejected report) starts a new ladder.
* Snoozing a task (until the next working morning) holds back the assignee's own reminder
  only; the steps keep their days, so escalation to the manager and director goes on.
* Leave: a task due while its assignee is on leave is excused (no reminders); a recipient
  on leave today is skipped (they hear the then-current step when back).

A round reads only the tasks whose `next_action_at` has come, and stores each one's next
value after its cards are queued: the next step's morning, the next working morning (or
the snooze's end) while someone is held back, or nothing once the ladder is done.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.dispatch.context import Services
from bot.domain.policy import Policy
from bot.domain.reminders import (
    GRACE_WORKDAYS,
    current_step,
    first_action_at,
    in_working_hours,
    next_action_after,
    next_working_morning,
    recipients_for,
    stage,
    window,
)
from bot.domain.roster import Roster
from cards.reminder import ReminderLine, ReminderView, build_reminder_card
from storage.activities import activity_titles
from storage.members import load_roster
from storage.outbox import enqueue_many, outbox_row
from storage.reminders import (
    claim_cards,
    claim_markers,
    existing_markers,
    marker_key,
    recheck_lost,
    recheck_open_tasks,
    set_next_actions,
    tasks_due_now,
)

log = logging.getLogger("dutybot.reminders")

LANG = "zh"  # proactive messages to someone who never wrote to the bot: the team's language


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
    tasks = await tasks_due_now(session, now, services.department)
    titles = await activity_titles(session, {t.activity_id for t in tasks if t.activity_id})
    plans: dict[str, list[Planned]] = defaultdict(list)
    next_actions: list[tuple[int, datetime | None, datetime | None]] = []
    # The ladder's arithmetic depends on the due date only: once per date, not per task
    # (a morning round reads thousands of tasks due on a handful of dates).
    step_of: dict = {}
    after: dict = {}
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
        if due_date not in step_of:
            step_of[due_date] = current_step(steps, due_date, today, calendar)
            after[due_date] = next_action_after(policy, calendar, due_date, local_now)
        index = step_of[due_date]
        if index is None:
            first = first_action_at(policy, calendar, tz, task.due_at)
            next_actions.append((task.id, task.next_action_at, first))
            continue
        step = steps[index]
        stage_now, late = stage(now, task.due_at, today, due_date, calendar)
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
                duty_name=duty.name(roster.lang_of(person.open_id, LANG))
                if duty
                else task.duty_key,
                due_at=due_local,
                stage=stage_now,
                late_workdays=late,
                status=task.status,
                action=duty.action if duty else "",
                assignee_name=assignee.name,
                activity_title=(titles.get(task.activity_id) if task.activity_id else task.subject),
            )
            key = marker_key(task.id, due_date.isoformat(), step.key, person.open_id)
            plans[person.open_id].append(Planned(key, line, mine))
        later = after[due_date]
        if retry is not None:  # next_action_after(…, retry_at=retry)
            later = retry if later is None else min(later, retry)
        next_actions.append((task.id, task.next_action_at, later))
    sent = await existing_markers(session, [p.marker for ps in plans.values() for p in ps], now)
    result = {}
    for open_id, items in plans.items():
        left = [p for p in items if p.marker not in sent]
        if left:
            result[open_id] = left
    return RoundPlan(result, next_actions)


def ladder_marker(policy: Policy, roster: Roster, department: str | None = None) -> str:
    """A key for everything besides a task that decides who hears which step when: the
    ladder, working hours, the reporting lines and the team (of a department). When it
    changes, the tasks in the window are looked at again (a new manager hears the current
    step, as before)."""
    parts = [repr(policy.reminders), repr(policy.working_hours)]
    if department is not None:
        parts.append(f"department={department}")
    parts += sorted(f"{r.key}>{r.reports_to}" for r in policy.roles.values())
    parts += sorted(
        f"{m.open_id}|{m.role_key}|{m.manager_open_id}" for m in roster.members.values()
    )
    return "ladder:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


async def recheck_if_changed(session, services: Services, roster: Roster, now: datetime) -> None:
    """Once per ladder and team: make the tasks in the reminder window due for a look; and
    every round: tasks whose card was lost are looked at again (the step is planned anew)."""
    await recheck_lost(session, now)
    key = ladder_marker(services.policy, roster, services.department)
    if not await existing_markers(session, [key]):
        steps = services.policy.reminders
        if steps:
            today = now.astimezone(services.tz).date()
            lo, _ = window(steps, services.calendar, services.tz, today)
            await recheck_open_tasks(session, lo, services.department)
        await claim_markers(session, [key], now)
    await session.commit()


def card_uuid(markers: list[str], now: datetime) -> str:
    """Unique per planning: a step planned again after its card was lost needs a new uuid
    (Feishu and the outbox would take the old one for the lost message)."""
    text = "\n".join([*sorted(markers), now.isoformat()])
    return "rm" + hashlib.sha256(text.encode()).hexdigest()[:40]


BATCH = 200  # cards per transaction: short enough not to hold SQLite's writer for long


async def send_round(
    sessions: async_sessionmaker, services: Services, now: datetime
) -> ReminderStats:
    """Plan this round and queue one card per person, in batches: each batch's markers
    and outbox rows go in one transaction, a card with all its markers or not at all.
    Department by department: each with its policy's ladder and working hours, its
    members' reporting lines and its tasks. Outside working hours or on a day off:
    nothing."""
    stats = ReminderStats()
    views = services.departments()
    outside = 0
    for view in views:
        if not await _send_department_round(sessions, view, now, stats):
            outside += 1
    stats.outside_hours = outside == len(views)
    if stats.cards:
        log.info("reminders: %d card(s), %d item(s)", stats.cards, stats.items)
    return stats


async def _send_department_round(
    sessions: async_sessionmaker, services: Services, now: datetime, stats: ReminderStats
) -> bool:
    """One department's round (the whole team's without departments); False outside its
    working hours."""
    local_now = now.astimezone(services.tz)
    if not in_working_hours(services.policy, services.calendar, local_now):
        return False
    async with sessions() as session:
        roster = await load_roster(session, services.policy, services.department)
        await recheck_if_changed(session, services, roster, now)
        planned = await plan_round(session, services, roster, now)
    plans = planned.by_recipient
    recipients = sorted(plans)
    for i in range(0, len(recipients), BATCH):
        cards = []  # (recipient, its items, outbox row)
        for open_id in recipients[i : i + BATCH]:
            items = plans[open_id]
            view = ReminderView(
                name=roster.name(open_id),
                now=local_now,
                mine=tuple(p.line for p in items if p.mine),
                others=tuple(p.line for p in items if not p.mine),
            )
            row = outbox_row(
                uuid=card_uuid([p.marker for p in items], now),
                now=now,
                kind="send",
                # The assignee's own nudge, or a manager/director hearing of someone else's.
                purpose="reminder" if view.mine else "escalation",
                body=build_reminder_card(view, roster.lang_of(open_id, LANG)),
                receive_id_type="open_id",
                receive_id=open_id,
            )
            cards.append((open_id, items, row))
        async with sessions() as session:
            won = await claim_cards(
                session, [(row["uuid"], [p.marker for p in items]) for _, items, row in cards], now
            )
            await enqueue_many(session, [row for _, _, row in cards if row["uuid"] in won])
            await session.commit()
        for open_id, items, row in cards:
            if row["uuid"] not in won:
                stats.lost_races += 1
                continue
            stats.cards += 1
            stats.items += len(items)
            stats.recipients.append(open_id)
    # Only now that every card is queued: a crash before this looks at the tasks again.
    if planned.next_actions:
        async with sessions() as session:
            await set_next_actions(session, planned.next_actions)
            await session.commit()
    return True
