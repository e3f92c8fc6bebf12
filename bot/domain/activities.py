"""Activity planning: which duties an activity brings, who gets each, and when each is due.
The I/O half (rows, audit, announcements) is ``bot.services.activities``.

Who gets an activity duty (by the duty's role):

1. the owner (the planner who runs the activity), when the duty is of the owner's role;
2. the owner's manager (team file override, else by role), when the duty is of that role;
3. otherwise every active member holding the duty's role (e.g. the digital specialist(s)).

Due dates come from ``bot.domain.schedule.activity_due`` (calendar-day "before" deadlines on
a day off move to the previous working day; "after" ones to the next; working-day offsets
count working days). A deadline that has already passed when the activity is created or
moved is due on the next working day instead (at the rule's time of day), and says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Generic

from bot.domain.policy import Duty, Policy
from bot.domain.roster import P, Roster
from bot.domain.schedule import activity_due
from bot.domain.workcalendar import WorkCalendar

MODES = ("offline", "online", "hybrid")
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
class PlannedTask(Generic[P]):
    duty: Duty
    assignee: P
    due_at: datetime  # aware UTC, after clamping
    policy_due_at: datetime  # what the policy says
    clamped: bool


def validate(data: ActivityInput, roster: Roster) -> list[str]:
    errors = []
    if not data.title.strip():
        errors.append("title is required / 请填写活动名称")
    elif len(data.title) > MAX_TITLE:
        errors.append(f"title is longer than {MAX_TITLE} characters / 活动名称过长")
    errors += check_dates(data.start, data.end)
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


def check_dates(start: date, end: date) -> list[str]:
    if end < start:
        return [f"the end ({end}) is before the start ({start}) / 结束日期早于开始日期"]
    return []


def assignees_for(duty: Duty, owner: P, roster: Roster[P]) -> list[P]:
    if duty.role == owner.role_key:
        return [owner]
    manager = roster.manager_of(owner)
    if manager is not None and manager.role_key == duty.role:
        return [manager]
    return roster.with_role(duty.role)


def due_for(
    duty: Duty, start: date, end: date, tz: tzinfo, calendar: WorkCalendar, now: datetime
) -> tuple[datetime, datetime, bool]:
    """(due, policy due, clamped): a deadline already past is due on the next working day."""
    policy_due = activity_due(duty.due, start, end, tz, calendar)
    if policy_due >= now:
        return policy_due, policy_due, False
    today = now.astimezone(tz).date()
    day = calendar.add_workdays(today, 1)
    due = datetime.combine(day, duty.due.time, tzinfo=tz).astimezone(UTC)
    return due, policy_due, True


def plan(
    policy: Policy,
    calendar: WorkCalendar,
    tz: tzinfo,
    roster: Roster[P],
    owner: P,
    start: date,
    end: date,
    now: datetime,
) -> tuple[list[PlannedTask[P]], list[str]]:
    """The tasks an activity needs, and warnings for duties nobody can take."""
    planned: list[PlannedTask[P]] = []
    warnings = []
    for duty in policy.activity_duties():
        people = assignees_for(duty, owner, roster)
        if not people:
            warnings.append(
                f"no active member has the role {duty.role}: {duty.key} was not assigned"
            )
            continue
        due, policy_due, clamped = due_for(duty, start, end, tz, calendar, now)
        for person in people:
            planned.append(PlannedTask(duty, person, due, policy_due, clamped))
    planned.sort(key=lambda p: (p.due_at, p.duty.key, p.assignee.open_id))
    return planned, warnings


def years_touched(start: date, end: date, due_dates: list[date]) -> set[int]:
    """The calendar years an activity's dates and deadlines fall in."""
    return {start.year, end.year} | {d.year for d in due_dates}
