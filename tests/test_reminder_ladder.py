"""The reminder ladder's arithmetic: which step is current on a given day, who hears
about it, and when the next working morning is (around the 2026 National Day holiday)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.policy import ReminderStep, load_policy
from bot.domain.reminders import (
    OVERDUE,
    TODAY,
    UPCOMING,
    current_step,
    in_working_hours,
    next_working_morning,
    recipients_for,
    stage,
    step_day,
    window,
)
from bot.domain.roster import Roster
from bot.domain.workcalendar import WorkCalendar
from cards import reminder as reminder_card

SH = ZoneInfo("Asia/Shanghai")


@dataclass
class Person:
    open_id: str
    role_key: str
    name: str = ""
    manager_open_id: str | None = None
    is_admin: bool = False


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture(scope="module")
def cal():
    return WorkCalendar()


def test_steps_count_working_days_across_a_holiday(policy, cal):
    steps = policy.reminders  # -1 / 0 / +1 / +3
    due = date(2026, 9, 30)  # the last working day before National Day (Oct 1-7 off)
    assert step_day(due, -1, cal) == date(2026, 9, 29)
    assert step_day(due, 1, cal) == date(2026, 10, 8)
    assert current_step(steps, due, date(2026, 9, 28), cal) is None
    assert steps[current_step(steps, due, date(2026, 9, 29), cal)].offset == -1
    assert (
        steps[current_step(steps, due, date(2026, 10, 5), cal)].offset == 0
    )  # holiday: no step moves
    assert steps[current_step(steps, due, date(2026, 10, 8), cal)].offset == 1
    # after an outage only the latest step is current, not the whole ladder
    assert steps[current_step(steps, due, date(2026, 10, 20), cal)].offset == 3


def test_stage_and_lateness(cal):
    due_at = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    assert stage(due_at.replace(hour=1), due_at, date(2026, 9, 30), date(2026, 9, 30), cal) == (
        TODAY,
        0,
    )
    assert stage(due_at.replace(day=29), due_at, date(2026, 9, 29), date(2026, 9, 30), cal) == (
        UPCOMING,
        0,
    )
    late = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)
    assert stage(late, due_at, date(2026, 10, 9), date(2026, 9, 30), cal) == (OVERDUE, 2)
    # the card shows the same stage names
    assert (reminder_card.UPCOMING, reminder_card.TODAY, reminder_card.OVERDUE) == (
        UPCOMING,
        TODAY,
        OVERDUE,
    )


def test_working_hours_and_the_next_working_morning(policy, cal):
    friday_evening = datetime(2026, 9, 30, 19, 0, tzinfo=SH)
    assert not in_working_hours(policy, cal, friday_evening)
    assert in_working_hours(policy, cal, friday_evening.replace(hour=9, minute=30))
    assert not in_working_hours(policy, cal, datetime(2026, 10, 2, 10, 0, tzinfo=SH))  # holiday
    morning = next_working_morning(policy, cal, friday_evening)
    assert morning == datetime(2026, 10, 8, 9, 30, tzinfo=SH).astimezone(UTC)


def test_the_query_window_covers_every_step(policy, cal):
    today = date(2026, 10, 8)
    lo, hi = window(policy.reminders, cal, SH, today)
    for offset in (-1, 0, 1, 3):
        # a task due on the day for which today is step `offset` is inside the window
        due = cal.add_workdays(today, -offset) if offset else today
        assert lo <= datetime(due.year, due.month, due.day, 18, tzinfo=SH) < hi, offset


def test_recipients_assignee_manager_and_role_each_once(policy):
    boss = Person("ou_dir", "director")
    manager = Person("ou_mgr", "manager")
    planner = Person("ou_pl", "planner")
    roster = Roster(policy, {p.open_id: p for p in (boss, manager, planner)})
    step = ReminderStep("late", 3, ("assignee", "manager-of-assignee", "director", "manager"))
    assert [p.open_id for p in recipients_for(step, planner, roster)] == [
        "ou_pl",
        "ou_mgr",
        "ou_dir",
    ]
    # the team file's manager override wins over the role's reports_to
    planner_with_override = Person("ou_pl", "planner", manager_open_id="ou_dir")
    roster.members["ou_pl"] = planner_with_override
    who = recipients_for(
        ReminderStep("x", 1, ("manager-of-assignee",)), planner_with_override, roster
    )
    assert [p.open_id for p in who] == ["ou_dir"]
