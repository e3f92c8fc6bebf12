"""The reminder ladder as pure rules: on which day each step applies, and when a task
next needs the scheduler's attention (`tasks.next_action_at`).

`next_action_at` is a lower bound: the tick reads only tasks whose value has come, plans
them with the full rules (bot.jobs.reminders) and stores the next value. NULL means
nothing more will happen to the task (closed, ladder finished, or past its grace)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.domain.policy import Policy, ReminderStep
from bot.domain.workcalendar import WorkCalendar

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


def morning(policy: Policy, day: date, tz) -> datetime:
    """The start of working hours on `day` (aware UTC)."""
    return datetime.combine(day, policy.working_hours[0], tzinfo=tz).astimezone(UTC)


def next_working_morning(policy: Policy, calendar: WorkCalendar, local_now: datetime) -> datetime:
    """The start of working hours on the next working day after today (aware UTC)."""
    return morning(policy, calendar.add_workdays(local_now.date(), 1), local_now.tzinfo)


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


def first_action_at(
    policy: Policy, calendar: WorkCalendar, tz, due_at: datetime
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
    tz, today = local_now.tzinfo, local_now.date()
    later = [d for d in (step_day(due, s.offset, calendar) for s in policy.reminders) if d > today]
    found = morning(policy, min(later), tz) if later else None
    if retry_at is not None:
        found = retry_at if found is None else min(found, retry_at)
    return found
