"""``workday = N`` on monthly / quarterly / yearly duties: due on the Nth working day of the
due month ("每季度结束后10个工作日内", "within 3 working days after the month ends"), counted
on the working-day calendar (official holidays and make-up days), from the file to the
tasks the bot creates."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import build_app
from bot.domain.policy import Duty, PolicyError, parse_policy
from bot.domain.schedule import occurrence_for, upcoming_occurrences
from bot.domain.workcalendar import WorkCalendar
from storage.models import Task
from tests.conftest import make_settings, sync_team
from tests.sched_helpers import SH, at

SHIPPED = Path(__file__).resolve().parent.parent / "bot" / "policies" / "marketing.toml"
CAL = WorkCalendar()

SOCIAL_INSURANCE = """
[[duties]]
key = "planner.social_insurance_report"
role = "planner"
name_zh = "社保缴纳情况报告"
name_en = "Social insurance payment report"
clause = "每季度结束后10个工作日内提交社保公积金缴纳情况报告。"
inferred = false

[duties.due]
kind = "quarterly"
month = 1
workday = 10
covers = "previous"
"""


def policy_text(extra: str = SOCIAL_INSURANCE) -> str:
    return SHIPPED.read_text(encoding="utf-8") + extra


def policy_with(due: str):
    text = policy_text(SOCIAL_INSURANCE.split("[duties.due]")[0] + "[duties.due]\n" + due)
    return parse_policy(tomllib.loads(text))


def test_the_nth_working_day_after_a_quarter_skips_national_day_and_counts_make_up_days():
    duty = policy_with('kind = "quarterly"\nmonth = 1\nworkday = 10\ncovers = "previous"\n').duty(
        "planner.social_insurance_report"
    )
    occ = occurrence_for(duty.due, "2026-Q3", "Asia/Shanghai", CAL)
    assert occ is not None
    # Oct 1-7 off; Oct 8, 9, Sat 10 (make-up day), 12 .. 16, 19, 20
    assert occ.due_date == date(2026, 10, 20)
    assert CAL.workdays_between(date(2026, 9, 30), occ.due_date) == 10
    assert occ.due_at.astimezone(SH).strftime("%H:%M") == "18:00"
    assert duty.due.describe() == "每季度第1个月第10个工作日"
    assert duty.due.describe("en") == "on the 10th working day of the 1st month of each quarter"
    # the rule survives its JSON snapshot (policy diff, stored duties) unchanged
    assert Duty.from_json(duty.to_json()).due == duty.due
    assert "adjust" not in duty.to_json()["due"]


def test_monthly_and_yearly_workdays():
    monthly = policy_with('kind = "monthly"\nworkday = 3\ncovers = "previous"\n')
    rule = monthly.duty("planner.social_insurance_report").due
    now = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
    first, second = upcoming_occurrences(rule, now, "Asia/Shanghai", CAL)
    assert first.period_key == "2026-01"
    assert CAL.workdays_between(date(2026, 1, 31), first.due_date) == 3
    assert CAL.is_workday(first.due_date)
    # March 2026: Mon 2, Tue 3, Wed 4
    assert (second.period_key, second.due_date) == ("2026-02", date(2026, 3, 4))
    assert rule.describe() == "每月第3个工作日"
    yearly = policy_with('kind = "yearly"\nmonth = 1\nworkday = 5\ncovers = "previous"\n')
    occ = occurrence_for(yearly.duty("planner.social_insurance_report").due, "2026", SH, CAL)
    assert occ is not None and CAL.workdays_between(date(2026, 12, 31), occ.due_date) == 5
    assert yearly.duty("planner.social_insurance_report").due.describe("en") == (
        "on the 5th working day of January each year"
    )


@pytest.mark.parametrize(
    ("due", "words"),
    [
        ('kind = "monthly"\nworkday = 0\n', "out of range"),
        ('kind = "monthly"\nworkday = 24\n', "out of range"),
        ('kind = "monthly"\nworkday = 3\nday = 3\n', "set exactly one of"),
        ('kind = "monthly"\nworkday = 3\nadjust = "next_workday"\n', "no effect with workday"),
        ('kind = "quarterly"\nworkday = 3\n', "month is missing"),
    ],
)
def test_workday_mistakes_are_named(due: str, words: str):
    with pytest.raises(PolicyError) as e:
        policy_with(due)
    assert words in str(e.value)


async def test_the_bot_creates_the_task_due_on_the_nth_working_day(
    db_url, emulator, clock, tmp_path: Path
):
    path = tmp_path / "policy.toml"
    path.write_text(policy_text(), encoding="utf-8")
    clock.set(at(2026, 10, 9))
    settings = make_settings(db_url, emulator.base_url, policy_path=str(path))
    async with build_app(settings, clock=clock) as bot:
        await sync_team(bot)
        async with bot.sessions() as s:
            rows = (
                await s.exec(select(Task).where(Task.duty_key == "planner.social_insurance_report"))
            ).all()
    due = {t.period_key: t.due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M") for t in rows}
    assert due["2026-Q3"] == "2026-10-20 18:00"
    assert {t.assignee_open_id for t in rows} == {"ou_planner"}
