"""The reminder ladder as arithmetic: on which working day each step applies, which step
is current, who hears about it, and when the working day (re)starts. The I/O half (which
tasks, which markers, which cards) is ``bot.jobs.reminders``.

* A step's day is ``add_workdays(due date, offset)`` (offset 0: the due date itself).
* Only the *current* step of a task is sent: the latest one whose day has come, so after
  an outage the catch-up is one message, not the whole ladder.
* Nothing is sent outside working hours or on a day off.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.domain.policy import Policy, ReminderStep
from bot.domain.roster import P, Roster
from bot.domain.workcalendar import WorkCalendar

GRACE_WORKDAYS = 5  # how long after the last step a missed step is still caught up
UPCOMING, TODAY, OVERDUE = "upcoming", "today", "overdue"  # a task's stage on a reminder


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
    steps: tuple[ReminderStep, ...], calendar: WorkCalendar, tz: tzinfo, today: date
) -> tuple[datetime, datetime]:
    """The due_at range (UTC) a step can apply to today: a superset, filtered per task."""
    offsets = [s.offset for s in steps]
    lo_day = calendar.add_workdays(today, -(max(max(offsets), 0) + GRACE_WORKDAYS))
    hi_day = calendar.add_workdays(today, -min(min(offsets), 0)) + timedelta(days=1)
    lo = datetime.combine(lo_day, time(0), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(hi_day, time(0), tzinfo=tz).astimezone(UTC)
    return lo, hi


def stage(
    now: datetime, due_at: datetime, today: date, due_date: date, calendar: WorkCalendar
) -> tuple[str, int]:
    """(stage, working days late) of a task due at ``due_at`` (local date ``due_date``)."""
    if now > due_at:
        return OVERDUE, max(0, calendar.workdays_between(due_date, today))
    if today == due_date:
        return TODAY, 0
    return UPCOMING, 0


def recipients_for(step: ReminderStep, assignee: P, roster: Roster[P]) -> list[P]:
    """Who hears about a step: the assignee, their manager, and/or everyone of a role;
    each person once, in the order the step names them."""
    found: list[P] = []
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


# -- when a task next needs the tick (`tasks.next_action_at`) ------------------------------
# A lower bound: the tick reads only tasks whose value has come, plans them with the full
# rules (bot.jobs.reminders) and stores the next value. None: nothing more will happen
# (closed, ladder finished, or past its grace).


def morning(policy: Policy, day: date, tz: tzinfo) -> datetime:
    """The start of working hours on `day` (aware UTC)."""
    return datetime.combine(day, policy.working_hours[0], tzinfo=tz).astimezone(UTC)


def first_action_at(
    policy: Policy, calendar: WorkCalendar, tz: tzinfo, due_at: datetime
) -> datetime | None:
    """When a task due at `due_at` first needs the tick: its first step's morning."""
    if not policy.reminders:
        return None
    due = due_at.astimezone(tz).date()
    return morning(policy, step_day(due, policy.reminders[0].offset, calendar), tz)


def next_action_after(
    policy: Policy,
    calendar: WorkCalendar,
    due: date,
    local_now: datetime,
    *,
    retry_at: datetime | None = None,
) -> datetime | None:
    """After a round at `local_now` planned a task due on `due`: the morning of its next
    step, or `retry_at` if sooner (someone of the current step was held back: the snooze's
    end, or the next working morning for leave). None when the ladder has nothing more."""
    today = local_now.date()
    later = [d for d in (step_day(due, s.offset, calendar) for s in policy.reminders) if d > today]
    found = morning(policy, min(later), local_now.tzinfo) if later else None
    if retry_at is not None:
        found = retry_at if found is None else min(found, retry_at)
    return found
