"""Activity planning: who gets each duty of an activity and when it is due."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.activities import (
    ActivityInput,
    assignees_for,
    due_for,
    plan,
    validate,
    years_touched,
)
from bot.domain.policy import load_policy
from bot.domain.roster import Roster
from bot.domain.workcalendar import WorkCalendar
from cards.task_actions import ACTION_DONE, ACTION_REPORT

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


@pytest.fixture
def roster(policy):
    people = [
        Person("ou_dir", "director"),
        Person("ou_mgr", "manager"),
        Person("ou_pl1", "planner"),
        Person("ou_pl2", "planner"),
        Person("ou_dig", "digital"),
    ]
    return Roster(policy, {p.open_id: p for p in people})


def test_owner_manager_and_role_holders(policy, roster):
    owner = roster.get("ou_pl1")
    assert assignees_for(policy.duty("planner.activity_plan"), owner, roster) == [
        owner
    ]  # not ou_pl2
    assert [
        p.open_id for p in assignees_for(policy.duty("manager.retrospective"), owner, roster)
    ] == ["ou_mgr"]
    assert [
        p.open_id for p in assignees_for(policy.duty("digital.promotion_plan"), owner, roster)
    ] == ["ou_dig"]


def test_plan_dates_and_the_duty_nobody_can_take(policy, roster):
    cal = WorkCalendar()
    now = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    owner = roster.get("ou_pl1")
    planned, warnings = plan(
        policy, cal, SH, roster, owner, date(2026, 11, 20), date(2026, 11, 21), now
    )
    by_key = {p.duty.key: p for p in planned}
    # 30 calendar days before the start, 18:00 local
    assert by_key["planner.activity_plan"].due_at == datetime(2026, 10, 21, 18, 0, tzinfo=SH)
    # 3 working days after the end (Sat 21st): Wed 25th
    assert by_key["planner.execution_report"].due_at == datetime(2026, 11, 25, 18, 0, tzinfo=SH)
    assert [p.due_at for p in planned] == sorted(p.due_at for p in planned)
    assert any("research" in w for w in warnings)  # no market researcher on this team
    assert by_key["planner.activity_plan"].duty.action == ACTION_REPORT
    assert by_key["planner.preparation"].duty.action == ACTION_DONE


def test_a_deadline_already_past_is_due_the_next_working_day(policy):
    cal = WorkCalendar()
    now = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wednesday before National Day
    due, policy_due, clamped = due_for(
        policy.duty("planner.activity_plan"), date(2026, 10, 10), date(2026, 10, 10), SH, cal, now
    )
    assert clamped and policy_due < now
    assert due == datetime(2026, 10, 8, 18, 0, tzinfo=SH)  # Oct 1-7 are off


def test_validation_lists_every_problem(roster):
    bad = ActivityInput("", date(2026, 5, 2), date(2026, 5, 1), "ou_nobody", budget=-1, mode="boat")
    errors = validate(bad, roster)
    assert len(errors) == 5, errors
    assert all(" / " in e for e in errors)  # English and Chinese
    ok = ActivityInput("Launch", date(2026, 5, 1), date(2026, 5, 2), "ou_pl1")
    assert validate(ok, roster) == []
    assert years_touched(date(2026, 12, 30), date(2027, 1, 2), [date(2028, 1, 5)]) == {
        2026,
        2027,
        2028,
    }
